//! The YAML layer: the file's top-level `key: value` pairs with their
//! positions, every scalar kept as the text written, so that each setting
//! decides how to read it (vip-manager accepts `netmask: "24"` as well as
//! `netmask: 24`).

use saphyr::{MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

/// A place in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(marker: &saphyr::Marker) -> Pos {
        Pos {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// No value: `key:`, `key: ~` or `key: null`.
    Empty,
    /// A scalar, as text.
    Text(String),
    /// A list of scalars, each with its position.
    List(Vec<(String, Pos)>),
    /// Something no vip-manager setting takes: a mapping, a nested list.
    Other(&'static str),
}

/// One top-level `key: value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The key as written.
    pub key: String,
    /// Where the key is.
    pub at: Pos,
    pub value: Value,
}

/// The file's settings, or `None` when it holds none at all (empty, only
/// comments, or an empty document).
#[derive(Debug)]
pub(super) struct Document {
    pub entries: Option<Vec<Entry>>,
    /// Where a second document's content starts, if the file has more than
    /// one.
    pub extra_document: Option<Pos>,
}

/// Why the text is not a vip-manager YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub at: Pos,
    pub message: String,
}

/// Reads `text`.
pub(super) fn read(text: &str) -> Result<Document, SyntaxError> {
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    // Keep scalars as written: each setting reads its own type.
    loader.early_parse(false);
    let mut parser = Parser::new_from_str(text);
    let failed = |e: &saphyr::ScanError| SyntaxError {
        at: Pos::of(e.marker()),
        message: e.info().to_owned(),
    };
    parser.load(&mut loader, true).map_err(|e| failed(&e))?;
    if let Some(e) = loader.error() {
        return Err(failed(e));
    }
    let docs = loader.into_documents();
    let extra_document = docs.get(1).map(|d| Pos::of(&d.span.start));
    let entries = match docs.into_iter().next() {
        None => None,
        Some(doc) => top_level(doc)?,
    };
    Ok(Document {
        entries,
        extra_document,
    })
}

fn top_level(doc: MarkedYaml<'_>) -> Result<Option<Vec<Entry>>, SyntaxError> {
    let at = Pos::of(&doc.span.start);
    let map = match doc.data {
        YamlData::Mapping(map) => map,
        other if is_empty(&other) => return Ok(None),
        other => {
            return Err(SyntaxError {
                at,
                message: format!(
                    "expected vip-manager settings (`key: value` lines), found {}",
                    kind(&other)
                ),
            });
        }
    };
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let key_at = Pos::of(&key.span.start);
        let Some(key) = scalar_text(&key.data) else {
            return Err(SyntaxError {
                at: key_at,
                message: format!("expected a setting name, found {}", kind(&key.data)),
            });
        };
        entries.push(Entry {
            key: key.to_owned(),
            at: key_at,
            value: value_of(value),
        });
    }
    Ok(Some(entries))
}

fn value_of(node: MarkedYaml<'_>) -> Value {
    match node.data {
        data if is_empty(&data) => Value::Empty,
        YamlData::Sequence(items) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match scalar_text(&item.data) {
                    Some(text) => list.push((text.to_owned(), Pos::of(&item.span.start))),
                    None => return Value::Other("a list of lists or mappings"),
                }
            }
            Value::List(list)
        }
        data => match scalar_text(&data) {
            Some(text) => Value::Text(text.to_owned()),
            None => Value::Other(kind(&data)),
        },
    }
}

type Data<'a> = YamlData<'a, MarkedYaml<'a>>;

/// The text of a scalar, tagged or not.
fn scalar_text<'a>(data: &'a Data<'_>) -> Option<&'a str> {
    match data {
        YamlData::Representation(text, _, _) => Some(text),
        YamlData::Tagged(_, inner) => scalar_text(&inner.data),
        _ => None,
    }
}

/// A plain scalar YAML reads as null: vip-manager takes it as not set.
fn is_empty(data: &Data<'_>) -> bool {
    match data {
        YamlData::Representation(text, ScalarStyle::Plain, None) => {
            matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        YamlData::Value(saphyr::Scalar::Null) => true,
        _ => false,
    }
}

fn kind(data: &Data<'_>) -> &'static str {
    match data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Representation(..) | YamlData::Value(_) => "a single value",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue => "an invalid value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<Entry> {
        read(text).unwrap().entries.unwrap()
    }

    #[test]
    fn scalars_keep_their_text_and_position() {
        let e = entries("ip: 192.0.2.60\nnetmask: 24\n  # c\ntrigger-value: '007'\n");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].key, "ip");
        assert_eq!(e[0].at, Pos { line: 1, column: 1 });
        assert_eq!(e[1].value, Value::Text("24".into()));
        assert_eq!(e[2].value, Value::Text("007".into()));
        assert_eq!(e[2].at.line, 4);
    }

    #[test]
    fn lists_carry_each_item_position() {
        let e = entries("dcs-endpoints:\n  - http://a:2379\n  - http://b:2379\n");
        assert_eq!(
            e[0].value,
            Value::List(vec![
                ("http://a:2379".into(), Pos { line: 2, column: 5 }),
                ("http://b:2379".into(), Pos { line: 3, column: 5 }),
            ])
        );
    }

    #[test]
    fn null_and_missing_values_are_empty_but_quoted_ones_are_not() {
        let e = entries("a:\nb: ~\nc: null\nd: ''\n");
        assert_eq!(e[0].value, Value::Empty);
        assert_eq!(e[1].value, Value::Empty);
        assert_eq!(e[2].value, Value::Empty);
        assert_eq!(e[3].value, Value::Text(String::new()));
    }

    #[test]
    fn nested_values_are_other() {
        let e = entries("a:\n  b: 1\nc: [[1]]\n");
        assert_eq!(e[0].value, Value::Other("a mapping"));
        assert_eq!(e[1].value, Value::Other("a list of lists or mappings"));
    }

    #[test]
    fn empty_texts_hold_no_entries() {
        for text in ["", "\n", "# only a comment\n", "---\n", "~\n"] {
            assert!(read(text).unwrap().entries.is_none(), "{text:?}");
        }
    }

    #[test]
    fn malformed_yaml_is_an_error_with_line_and_column() {
        let err = read("ip: 192.0.2.60\ninterface: [eth0\n").unwrap_err();
        assert_eq!(err.at.line, 3, "{err:?}");
        let err = read("ip: 1\n  bad: indent\n").unwrap_err();
        assert_eq!(err.at, Pos { line: 2, column: 6 }, "{err:?}");
        let err = read("ip: 1\nip: 2\n").unwrap_err();
        assert_eq!(err.at, Pos { line: 2, column: 1 }, "{err:?}");
        assert!(err.message.contains("duplicate"), "{err:?}");
    }

    #[test]
    fn a_top_level_that_is_not_a_mapping_is_an_error() {
        let err = read("- ip: 1\n").unwrap_err();
        assert_eq!(err.at, Pos { line: 1, column: 1 });
        assert!(err.message.contains("found a list"), "{}", err.message);
        let err = read("just text\n").unwrap_err();
        assert!(
            err.message.contains("found a single value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_second_document_is_located() {
        let doc = read("ip: 1\n---\nip: 2\n").unwrap();
        assert_eq!(doc.entries.unwrap().len(), 1);
        assert_eq!(doc.extra_document.map(|p| p.line), Some(3));
    }
}
