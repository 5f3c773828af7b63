//! Keeping the shim's resident set small (target < 2 MiB per container).
//!
//! Creating a container runs a lot of code once — spec parsing, seccomp
//! compilation, cgroup setup — whose pages then stay mapped, and leaves
//! freed heap behind. The monitor loop needs little of it. So after setup
//! (and after start) the shim:
//! - gives free heap back to the kernel (glibc `malloc_trim(3)`);
//! - asks the kernel to reclaim the pages of its file-backed mappings
//!   (`madvise(2)`, `MADV_PAGEOUT`, Linux 5.4). That is only advice and
//!   never changes memory contents: clean file pages are dropped and fault
//!   back in from the page cache when the loop touches them again; written
//!   (copy-on-write) pages stay, since without swap there is nowhere to put
//!   them. Pages other processes map too are left alone by the kernel.

use std::io::{BufRead, BufReader};

/// Returns setup-only memory to the kernel. Best effort: failures are
/// ignored, the shim works the same with a larger footprint.
pub fn trim() {
    // SAFETY: malloc_trim only releases free memory of glibc's allocator.
    unsafe { libc::malloc_trim(0) };
    let Ok(maps) = std::fs::File::open("/proc/self/maps") else {
        return;
    };
    let mut ranges = Vec::new();
    for line in BufReader::new(maps).lines().map_while(Result::ok) {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(_perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        // offset, device, inode, then the path of file-backed mappings.
        let path = fields.nth(3).unwrap_or("");
        if !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        if let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) {
            ranges.push((start, end));
        }
    }
    for (start, end) in ranges {
        // SAFETY: the range is a whole mapping of this process taken from
        // /proc/self/maps; MADV_PAGEOUT is advisory and preserves contents.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
    }
}
