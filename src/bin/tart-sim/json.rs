//! A JSON encoder that writes what Apple's `JSONEncoder` (`.prettyPrinted`, unsorted keys)
//! writes: two-space indent, `"key" : value`, `/` escaped as `\/`, `[\n\n]` for an empty
//! array. Reading JSON is left to serde_json.

/// A JSON value with ordered object members.
#[derive(Debug, Clone)]
pub enum Json {
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Builds an object from `(key, value)` pairs.
    pub fn obj(members: Vec<(&str, Json)>) -> Json {
        Json::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// A string value.
    pub fn str(value: impl Into<String>) -> Json {
        Json::Str(value.into())
    }

    /// Returns a copy whose object members are shuffled at every level.
    ///
    /// Swift dictionaries iterate in per-process hash order, so real tart's key order
    /// changes between invocations; doing the same keeps the server's parser honest.
    pub fn shuffled(self) -> Json {
        match self {
            Json::Arr(items) => Json::Arr(items.into_iter().map(Json::shuffled).collect()),
            Json::Obj(mut members) => {
                for i in (1..members.len()).rev() {
                    let j = (crate::ids::random_u64() % (i as u64 + 1)) as usize;
                    members.swap(i, j);
                }
                Json::Obj(
                    members
                        .into_iter()
                        .map(|(k, v)| (k, v.shuffled()))
                        .collect(),
                )
            }
            other => other,
        }
    }

    /// Renders pretty-printed, without a trailing newline.
    pub fn pretty(&self) -> String {
        let mut text = String::new();
        self.write(&mut text, 0);
        text
    }

    fn write(&self, text: &mut String, depth: usize) {
        match self {
            Json::Bool(b) => text.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => text.push_str(&i.to_string()),
            Json::Str(s) => write_string(text, s),
            Json::Arr(items) => write_block(text, depth, ('[', ']'), items, |text, item| {
                item.write(text, depth + 1)
            }),
            Json::Obj(members) => {
                write_block(text, depth, ('{', '}'), members, |text, (key, value)| {
                    write_string(text, key);
                    text.push_str(" : ");
                    value.write(text, depth + 1);
                })
            }
        }
    }
}

/// A pretty array or object: one item per line, indented one level deeper. Foundation
/// renders an empty one with a blank line inside (`[\n\n]`).
fn write_block<T>(
    text: &mut String,
    depth: usize,
    (open, close): (char, char),
    items: &[T],
    mut write_item: impl FnMut(&mut String, &T),
) {
    text.push(open);
    text.push('\n');
    for (index, item) in items.iter().enumerate() {
        indent(text, depth + 1);
        write_item(text, item);
        if index + 1 < items.len() {
            text.push(',');
        }
        text.push('\n');
    }
    if items.is_empty() {
        text.push('\n');
    }
    indent(text, depth);
    text.push(close);
}

fn indent(text: &mut String, depth: usize) {
    text.extend(std::iter::repeat_n(' ', depth * 2));
}

fn write_string(text: &mut String, value: &str) {
    text.push('"');
    for c in value.chars() {
        match c {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            '/' => text.push_str("\\/"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            '\t' => text.push_str("\\t"),
            '\u{8}' => text.push_str("\\b"),
            '\u{c}' => text.push_str("\\f"),
            c if (c as u32) < 0x20 => text.push_str(&format!("\\u{:04x}", c as u32)),
            c => text.push(c),
        }
    }
    text.push('"');
}
