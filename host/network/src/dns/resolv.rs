//! The parts of a `resolv.conf` berth uses (resolv.conf(5)).

use std::net::IpAddr;

/// What a `resolv.conf` says: its resolvers, search domains and options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// The `nameserver` addresses, in order (an IPv6 zone suffix `%eth0`
    /// is dropped with its line: the address means nothing elsewhere).
    pub nameservers: Vec<IpAddr>,
    /// The last `search` (or `domain`) line's domains, as the resolver
    /// takes only the last.
    pub search: Vec<String>,
    /// The `options` words, in order.
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses `text`; lines it does not know are ignored, as the C
    /// library's resolver does.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(|w| w.parse().ok()) {
                        conf.nameservers.push(addr);
                    }
                }
                Some("search") | Some("domain") => {
                    conf.search = words.map(str::to_owned).collect();
                }
                Some("options") => conf.options.extend(words.map(str::to_owned)),
                _ => {}
            }
        }
        conf
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &std::path::Path) -> std::io::Result<ResolvConf> {
        std::fs::read_to_string(path).map(|text| ResolvConf::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_gives_resolvers_search_and_options() {
        let conf = ResolvConf::parse(
            "# generated\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n\
             nameserver ::1\nsearch a.example b.example\noptions ndots:2 edns0\n\
             ; comment\nsortlist 10.0.0.0\ndomain c.example\n",
        );
        assert_eq!(
            conf.nameservers,
            vec![
                "10.0.0.2".parse::<IpAddr>().expect("ip"),
                "::1".parse().expect("ip")
            ]
        );
        assert_eq!(conf.search, vec!["c.example".to_string()]);
        assert_eq!(conf.options, vec!["ndots:2", "edns0"]);
    }
}
