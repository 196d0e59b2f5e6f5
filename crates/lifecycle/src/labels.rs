//! Label selectors: the string grammar of `?labelSelector=` and `kubectl -l` (`a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1`, comma = and) and
//! `metav1.LabelSelector` (`matchLabels` + `matchExpressions`), with the matching rules of
//! apimachinery's `pkg/labels/selector.go` (`Parse`, `Requirement.Matches`) and
//! `metav1.LabelSelectorAsSelector`. Written here because no maintained Rust crate parses the
//! selector *string* grammar (kube-core only builds selectors); controllers and the API share it.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=` / `==`: the label exists and has one of the values.
    In,
    /// `!=` / `notin`: the label is absent or has none of the values.
    NotIn,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>n`: the label exists and is an integer greater than n.
    GreaterThan,
    /// `key<n`: the label exists and is an integer less than n.
    LessThan,
}

/// One term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How it is compared.
    pub operator: Operator,
    /// The values (one for `=`, `!=`, `>`, `<`; a set for `in`/`notin`; none otherwise).
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// A label selector: every requirement must hold. The empty selector selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

/// A selector that does not parse or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

impl Selector {
    /// Whether `labels` (absent = none) satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let empty = BTreeMap::new();
        let labels = labels.unwrap_or(&empty);
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector has no requirement (selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses the string form (`labels.Parse`).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        Parser::new(s).selector()
    }

    /// `metav1.LabelSelectorAsSelector`: `matchLabels` as `=` terms, then `matchExpressions`
    /// (`In`, `NotIn`, `Exists`, `DoesNotExist`).
    pub fn from_label_selector(ls: &LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in ls.match_labels.iter().flatten() {
            requirements.push(requirement(k, Operator::In, vec![v.clone()])?);
        }
        for e in ls.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{other:?} is not a valid label selector operator"
                    )))
                }
            };
            requirements.push(requirement(
                &e.key,
                op,
                e.values.clone().unwrap_or_default(),
            )?);
        }
        Ok(Selector { requirements })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r.operator {
                Operator::In if r.values.len() == 1 => format!("{}={}", r.key, r.values[0]),
                Operator::NotIn if r.values.len() == 1 => format!("{}!={}", r.key, r.values[0]),
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
                Operator::GreaterThan => format!("{}>{}", r.key, r.values.join("")),
                Operator::LessThan => format!("{}<{}", r.key, r.values.join("")),
            })
            .collect();
        write!(f, "{}", terms.join(","))
    }
}

/// A validated requirement (`labels.NewRequirement`).
fn requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, SelectorError> {
    validate_key(key)?;
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err(SelectorError(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                    .into(),
            ))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            return Err(SelectorError(
                "values: Invalid value: values set must be empty for exists and does not exist"
                    .into(),
            ))
        }
        Operator::GreaterThan | Operator::LessThan
            if values.len() != 1 || values[0].parse::<i64>().is_err() =>
        {
            return Err(SelectorError(format!(
                "values: Invalid value: {values:?}: for 'Gt', 'Lt' operators, the value must be a single integer"
            )));
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        if !is_label_value(v) {
            return Err(SelectorError(format!(
                "values[{i}][{key}]: Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            )));
        }
    }
    Ok(Requirement {
        key: key.to_string(),
        operator,
        values,
    })
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A label key: `[prefix/]name` (`validation.IsQualifiedName`).
pub fn validate_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let ok = is_label_name(name) && prefix.is_none_or(is_dns_subdomain);
    if ok {
        Ok(())
    } else {
        Err(SelectorError(format!(
            "key: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Open,
    Close,
    Comma,
    Greater,
    Less,
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "{s}"),
            Token::Not => write!(f, "!"),
            Token::Equals => write!(f, "="),
            Token::DoubleEquals => write!(f, "=="),
            Token::NotEquals => write!(f, "!="),
            Token::In => write!(f, "in"),
            Token::NotIn => write!(f, "notin"),
            Token::Open => write!(f, "("),
            Token::Close => write!(f, ")"),
            Token::Comma => write!(f, ","),
            Token::Greater => write!(f, ">"),
            Token::Less => write!(f, "<"),
            Token::End => Ok(()),
        }
    }
}

fn lex(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let special = |c: char| "!=(),<>".contains(c) || c.is_whitespace();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '!' if next == Some('=') => {
                out.push(Token::NotEquals);
                i += 2;
            }
            '!' => {
                out.push(Token::Not);
                i += 1;
            }
            '=' if next == Some('=') => {
                out.push(Token::DoubleEquals);
                i += 2;
            }
            '=' => {
                out.push(Token::Equals);
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '>' => {
                out.push(Token::Greater);
                i += 1;
            }
            '<' => {
                out.push(Token::Less);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !special(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                });
            }
        }
    }
    out.push(Token::End);
    out
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn new(s: &str) -> Self {
        Parser {
            tokens: lex(s),
            at: 0,
        }
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.at).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.at += 1;
        t
    }

    fn expected(found: &Token, what: &str) -> SelectorError {
        SelectorError(format!("found '{found}', expected: {what}"))
    }

    fn selector(&mut self) -> Result<Selector, SelectorError> {
        let mut requirements = Vec::new();
        if *self.peek() == Token::End {
            return Ok(Selector { requirements });
        }
        loop {
            requirements.push(self.requirement()?);
            match self.next() {
                Token::End => return Ok(Selector { requirements }),
                Token::Comma => {}
                t => return Err(Self::expected(&t, "',' or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = *self.peek() == Token::Not;
        if negated {
            self.next();
        }
        let key = match self.next() {
            Token::Ident(k) => k,
            t => return Err(Self::expected(&t, "identifier")),
        };
        if negated {
            return requirement(&key, Operator::DoesNotExist, Vec::new());
        }
        let op = match self.peek() {
            Token::End | Token::Comma => return requirement(&key, Operator::Exists, Vec::new()),
            Token::Equals | Token::DoubleEquals => Operator::In,
            Token::NotEquals => Operator::NotIn,
            Token::Greater => Operator::GreaterThan,
            Token::Less => Operator::LessThan,
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            t => return Err(Self::expected(t, "'=', '!=', '==', 'in', notin'")),
        };
        let set = matches!(self.next(), Token::In | Token::NotIn);
        let values = if set {
            self.value_set()?
        } else {
            vec![self.single_value()?]
        };
        requirement(&key, op, values)
    }

    /// After `=`, `==`, `!=`, `>`, `<`: one value, which may be empty.
    fn single_value(&mut self) -> Result<String, SelectorError> {
        match self.peek().clone() {
            Token::Ident(v) => {
                self.next();
                Ok(v)
            }
            Token::End | Token::Comma => Ok(String::new()),
            t => Err(Self::expected(&t, "identifier")),
        }
    }

    /// `( v1, v2, ... )`.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Token::Open => {}
            t => return Err(Self::expected(&t, "'('")),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Token::Ident(v) => values.push(v),
                Token::Close if values.is_empty() => return Ok(values),
                t => return Err(Self::expected(&t, "identifier")),
            }
            match self.next() {
                Token::Comma => {}
                Token::Close => return Ok(values),
                t => return Err(Self::expected(&t, "',' or ')'")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selects(sel: &str, pairs: &[(&str, &str)]) -> bool {
        Selector::parse(sel)
            .unwrap_or_else(|e| panic!("{sel}: {e}"))
            .matches(Some(&labels(pairs)))
    }

    #[test]
    fn equality_terms_match_as_apimachinery_does() {
        assert!(selects("app=web", &[("app", "web")]));
        assert!(selects("app==web", &[("app", "web")]));
        assert!(!selects("app=web", &[("app", "db")]));
        assert!(!selects("app=web", &[]));
        assert!(selects("app!=web", &[("app", "db")]));
        assert!(
            selects("app!=web", &[]),
            "!= selects objects without the label"
        );
        assert!(selects(
            "app=web,tier=front",
            &[("app", "web"), ("tier", "front")]
        ));
        assert!(!selects("app=web,tier=front", &[("app", "web")]));
    }

    #[test]
    fn set_terms_and_existence() {
        assert!(selects("app in (a,b)", &[("app", "b")]));
        assert!(!selects("app in (a,b)", &[("app", "c")]));
        assert!(!selects("app in (a,b)", &[]));
        assert!(selects("app notin (a,b)", &[("app", "c")]));
        assert!(selects("app notin (a,b)", &[]));
        assert!(!selects("app notin (a, b)", &[("app", "a")]));
        assert!(selects("app", &[("app", "")]));
        assert!(!selects("app", &[]));
        assert!(selects("!app", &[("x", "y")]));
        assert!(!selects("!app", &[("app", "y")]));
        assert!(selects("  app in ( a , b ) , !legacy ", &[("app", "a")]));
    }

    #[test]
    fn greater_and_less_compare_integers() {
        assert!(selects("gen>2", &[("gen", "3")]));
        assert!(!selects("gen>2", &[("gen", "2")]));
        assert!(!selects("gen>2", &[("gen", "x")]));
        assert!(selects("gen<2", &[("gen", "1")]));
    }

    #[test]
    fn the_empty_selector_selects_everything_and_an_empty_value_is_a_value() {
        assert!(selects("", &[]));
        assert!(selects("app=", &[("app", "")]));
        assert!(!selects("app=", &[("app", "x")]));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for bad in [
            "app in (a",
            "app in a",
            "app in ()",
            "=web",
            "app=web,",
            "app=a b",
            "app=-bad",
            "bad key=x",
            "gen>x",
            "app=web)",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            Selector::parse("app in (a").unwrap_err().to_string(),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
    }

    #[test]
    fn a_label_selector_object_becomes_the_same_requirements() {
        let ls: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        let s = Selector::from_label_selector(&ls).unwrap();
        assert_eq!(s.to_string(), "app=web,tier in (front,edge),!legacy");
        assert!(s.matches(Some(&labels(&[("app", "web"), ("tier", "edge")]))));
        assert!(!s.matches(Some(&labels(&[("app", "web"), ("tier", "back")]))));
        let bad: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "tier", "operator": "In", "values": []}]
        }))
        .unwrap();
        assert!(Selector::from_label_selector(&bad).is_err());
    }
}
