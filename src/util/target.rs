//! Request targets: splitting a raw request URL into decoded path segments and query
//! parameters (DESIGN.md fact 6: tiny_http's `request.url()` is raw). Both listeners
//! use it: the web layer for routing, the console for its ticket path.

/// A decoded request target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    /// The raw path, e.g. `/api/vms/my%20vm`.
    pub path: String,
    /// Decoded path segments, e.g. `["api", "vms", "my vm"]`.
    pub segments: Vec<String>,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
}

impl Target {
    /// Parses `url`; `None` if a segment is not valid percent-encoded UTF-8.
    pub fn parse(url: &str) -> Option<Target> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect::<Option<Vec<_>>>()?;
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((percent_decode(k, true)?, percent_decode(v, true)?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Target {
            path: path.to_string(),
            segments,
            query,
        })
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The segments as `&str`, for matching.
    pub fn parts(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// Decodes `%XX` escapes (and `+` as space in query strings); `None` on a bad escape or
/// invalid UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments_and_query() {
        let t =
            Target::parse("/api/vms/ghcr.io%2Fa%2Fb%3Alatest/config?force_refresh=true&x=a+b%21")
                .unwrap();
        assert_eq!(t.parts(), ["api", "vms", "ghcr.io/a/b:latest", "config"]);
        assert_eq!(t.param("force_refresh"), Some("true"));
        assert_eq!(t.param("x"), Some("a b!"));
        assert!(Target::parse("/api/vms/%zz").is_none());
        assert!(Target::parse("/api/vms/%ff").is_none());
        assert_eq!(Target::parse("/").unwrap().segments.len(), 0);
    }
}
