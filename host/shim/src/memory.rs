//! Keeping the shim's resident set small (target < 2 MiB per container).
//!
//! Creating a container runs a lot of code once — spec parsing, seccomp
//! compilation, cgroup setup — whose pages then stay mapped, and leaves
//! freed heap behind. The monitor loop needs little of it. So after setup
//! (and after start) the shim:
//! - gives free heap back to the kernel (glibc `malloc_trim(3)`);
//! - unmaps the pages of its read-only file mappings (program text,
//!   read-only data, shared libraries) with `madvise(2)` `MADV_DONTNEED`.
//!   For a private file mapping that is exact and safe as long as none of
//!   its pages was ever written (copy-on-write): the kernel then refills a
//!   page from the file, i.e. from the page cache, when the loop touches it
//!   again. A mapping without write permission that shows no `Anonymous`
//!   pages in `/proc/self/smaps` cannot gain any (nothing in this
//!   single-threaded process writes to it or changes its protection), so
//!   exactly those mappings are dropped; the others (relocated RELRO data,
//!   writable data) are left alone.

use std::io::{BufRead, BufReader};

/// A file-backed mapping of this process that is safe to drop.
#[derive(Debug, PartialEq, Eq)]
struct Droppable {
    start: usize,
    end: usize,
}

/// Parses `/proc/self/smaps` text into the mappings [`trim`] may drop:
/// file-backed, not writable, no anonymous (copy-on-write) pages.
fn droppable(smaps: impl BufRead) -> Vec<Droppable> {
    let mut out = Vec::new();
    // The mapping being read: (start, end, candidate so far).
    let mut current: Option<(usize, usize, bool)> = None;
    let finish = |current: &mut Option<(usize, usize, bool)>, out: &mut Vec<Droppable>| {
        if let Some((start, end, true)) = current.take() {
            out.push(Droppable { start, end });
        }
    };
    for line in smaps.lines().map_while(Result::ok) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some(anon) = line.strip_prefix("Anonymous:") {
            let kb: u64 = anon
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(1);
            if kb != 0
                && let Some(entry) = current.as_mut()
            {
                entry.2 = false;
            }
            continue;
        }
        // Header lines are `start-end perms offset dev inode [path]`;
        // field lines start with a `Name:` key.
        let Some((start, end)) = first.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        finish(&mut current, &mut out);
        let perms = words.next().unwrap_or("");
        let path = words.nth(3).unwrap_or("");
        let candidate = path.starts_with('/') && !perms.contains('w') && perms.ends_with('p');
        current = Some((start, end, candidate));
    }
    finish(&mut current, &mut out);
    out
}

/// Returns setup-only memory to the kernel. Best effort: failures are
/// ignored, the shim works the same with a larger footprint.
pub fn trim() {
    // SAFETY: malloc_trim only releases free memory of glibc's allocator.
    unsafe { libc::malloc_trim(0) };
    let Ok(smaps) = std::fs::File::open("/proc/self/smaps") else {
        return;
    };
    for mapping in droppable(BufReader::new(smaps)) {
        // SAFETY: a whole private, never-written, read-only file mapping
        // (see the module docs): dropping its pages changes no contents.
        unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_DONTNEED,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0a0000000-55d0a0100000 r--p 00000000 fe:01 123 /usr/bin/berth-shim
Size:               1024 kB
Rss:                 512 kB
Anonymous:             0 kB
55d0a0100000-55d0a0200000 r-xp 00100000 fe:01 123 /usr/bin/berth-shim
Rss:                 900 kB
Anonymous:             0 kB
55d0a0200000-55d0a0210000 r--p 00200000 fe:01 123 /usr/bin/berth-shim
Rss:                  64 kB
Anonymous:            64 kB
55d0a0210000-55d0a0220000 rw-p 00210000 fe:01 123 /usr/bin/berth-shim
Anonymous:            16 kB
55d0a1000000-55d0a1100000 rw-p 00000000 00:00 0 [heap]
Anonymous:           144 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:01 456 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 r--s 00000000 fe:01 789 /some/shared/file
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";

    #[test]
    fn only_never_written_read_only_private_file_mappings_are_dropped() {
        let found = droppable(SMAPS.as_bytes());
        assert_eq!(
            found,
            [
                Droppable {
                    start: 0x55d0a0000000,
                    end: 0x55d0a0100000
                },
                Droppable {
                    start: 0x55d0a0100000,
                    end: 0x55d0a0200000
                },
                Droppable {
                    start: 0x7f0000000000,
                    end: 0x7f0000100000
                },
            ]
        );
    }

    #[test]
    fn trimming_this_process_keeps_it_working() {
        trim();
        // Code and read-only data fault back in from the page cache.
        let text: String = ["still", "works"].join(" ");
        assert_eq!(text, "still works");
        assert_eq!(droppable(SMAPS.as_bytes()).len(), 3);
    }
}
