//! An `httpRequest` as a message: `METHOD /route → status`, the route with its ids as `<*>`.

use super::model::{HttpRequest, Str};

/// `POST /api/orders/<*>/pay → 502`: method, route and status, the way a request is one
/// problem whatever ids its URL carries; with the load balancer's `details` when it gave them
/// (`→ 502 (backend_connection_closed_before_data_sent_to_client)`: the backend closed the
/// connection, not a 502 the backend sent).
pub(super) fn request_line(req: &HttpRequest<'_>, details: Option<&str>) -> String {
    let method = req.request_method.as_ref().map_or("?", Str::as_str);
    let url = req.request_url.as_ref().map_or("", Str::as_str);
    let mut text = format!("{method} {}", route(url_path(url)));
    if let Some(status) = req.status.0 {
        text.push_str(&format!(" → {status}"));
    }
    if let Some(details) = details {
        text.push_str(&format!(" ({details})"));
    }
    text
}

/// The path of a request URL: no scheme or host (they add nothing to a problem) and no query or
/// fragment (they hold ids and, too often, secrets).
/// A URL path as a route: segments that carry ids (numbers, UUIDs, hashes, tokens) become
/// `<*>`; short versioned words like `v2` stay.
pub fn route(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let digits = seg.bytes().filter(u8::is_ascii_digit).count();
            let id_like = digits > 0 && (seg.len() > 3 || digits == seg.len());
            if id_like {
                "<*>"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn url_path(url: &str) -> &str {
    let after_host = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find(['/', '?', '#']).map_or("", |j| &rest[j..])
        }
        None => url,
    };
    let path = after_host
        .find(['?', '#'])
        .map_or(after_host, |j| &after_host[..j]);
    if path.is_empty() {
        "/"
    } else {
        path
    }
}
