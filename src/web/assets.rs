//! The UI's static files, embedded in the binary (the UI must work offline and ship in
//! one file). `/` is `index.html` with the API token put in place of `{{TOKEN}}`, which
//! is safe only because the Host check refuses DNS-rebound requests.

use super::reply::{Body, Reply};

/// Every file of `www/` and its content type, by request path.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../www/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../www/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../www/favicon.svg"),
    ),
];

const INDEX: &str = include_str!("../../www/index.html");

/// The placeholder in `index.html` that becomes the token.
const TOKEN_PLACEHOLDER: &str = "{{TOKEN}}";

/// `index.html` with the token in it. The token is base64url, so it needs no escaping.
pub fn index_with_token(token: &str) -> Vec<u8> {
    debug_assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    INDEX.replace(TOKEN_PLACEHOLDER, token).into_bytes()
}

/// The asset at `name` (a single path segment), if there is one.
pub fn asset(name: &str) -> Option<Reply> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ct, bytes)| Reply::page(ct, Body::Static(bytes)))
}
