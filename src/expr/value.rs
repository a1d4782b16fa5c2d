//! Converting between JSON values (`serde_json`) and jq values (`jaq_json::Val`).

use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

/// A JSON value as a jq value.
pub fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(number_to_num(n)),
        Value::String(s) => Val::utf8_str(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::utf8_str(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

fn number_to_num(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::from_integral(i)
    } else if let Some(u) = n.as_u64() {
        Num::from_integral(u)
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A jq value as a JSON value (NaN becomes `null`, infinities the largest finite numbers, as jq prints them).
pub fn from_val(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_value(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (key_string(k), from_val(v)))
                .collect::<Map<String, Value>>(),
        ),
    }
}

fn key_string(k: &Val) -> String {
    match k {
        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
        other => from_val(other).to_string(),
    }
}

fn num_to_value(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float_value(*f),
        Num::BigInt(b) => parse_number(&b.to_string()),
        Num::Dec(s) => parse_number(s),
    }
}

fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else if f.is_infinite() {
        Value::from(if f > 0.0 { f64::MAX } else { f64::MIN })
    } else if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        // whole floats print as integers, as jq does
        Value::from(f as i64)
    } else {
        Value::from(f)
    }
}

fn parse_number(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        Value::from(i)
    } else if let Ok(u) = s.parse::<u64>() {
        Value::from(u)
    } else {
        s.parse::<f64>().map_or(Value::Null, float_value)
    }
}

/// The kind of a JSON value, for messages: `a number`, `an object`, …
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as text for string interpolation: strings as they are, `null` as nothing,
/// everything else as compact JSON.
pub fn to_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json() {
        let v = json!({"a": [1, 2.5, "x", null, true, {"b": -3}], "big": 18446744073709551615u64});
        assert_eq!(from_val(&to_val(&v)), v);
    }

    #[test]
    fn whole_floats_print_as_integers() {
        assert_eq!(float_value(3.0), json!(3));
        assert_eq!(float_value(f64::NAN), Value::Null);
    }

    #[test]
    fn text_of_values() {
        let mut s = String::new();
        for v in [json!("a"), Value::Null, json!(1), json!({"k": [1]})] {
            to_text(&v, &mut s);
        }
        assert_eq!(s, "a1{\"k\":[1]}");
    }
}
