//! JSON values in and out of the data database on PostgreSQL.
//!
//! In: a step's `args` are bound as the parameters the server inferred for its SQL, never
//! spliced into it. Booleans and numbers go in binary where the type is a boolean, an
//! integer (range checked) or a float; everything else goes in PostgreSQL's text format, and
//! the server reads it as the parameter's type (text, numeric, uuid, date, timestamp, json,
//! …). Objects and arrays are JSON text, and a JSON array bound to an array parameter
//! (`id = ANY(?)`) is written as an array literal.
//!
//! Out: a column comes back with its natural JSON type: integers, floats (not finite: null,
//! as on SQLite), `numeric` as a number when 15 significant digits hold it (else its exact
//! text), text, booleans, json/jsonb parsed, bytea as lower-case hex (SQLite's blobs too),
//! arrays as arrays, composites as objects; dates, times, timestamps (in UTC, `+00`),
//! intervals, uuids and network addresses as PostgreSQL writes them. A type it does not
//! know is an error that names the column and its type.

use crate::store::data::DataError;
use bytes::BytesMut;
use serde_json::{Map, Number, Value};
use std::error::Error;
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn Error + Sync + Send>;

/// A JSON value bound as a parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param<'v>(pub(crate) &'v Value);

/// The type under `ty`'s domains.
fn base(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(inner) => base(inner),
        _ => ty,
    }
}

/// Whether `v` goes to a parameter of type `ty` in binary (else as text).
fn binary(v: &Value, ty: &Type) -> bool {
    let ty = base(ty);
    match v {
        Value::Bool(_) => matches!(*ty, Type::BOOL | Type::INT2 | Type::INT4 | Type::INT8),
        Value::Number(_) => matches!(
            *ty,
            Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8
        ),
        _ => false,
    }
}

/// The number as an integer, when it is one (`3.0` is).
fn integer(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64)
            .map(|f| f as i64)
    })
}

/// Write `v` for a parameter of type `ty`, in the format [`binary`] chose.
fn encode(v: &Value, ty: &Type, out: &mut BytesMut) -> Result<(), String> {
    let base = base(ty);
    let fits = |n: &Number| format!("{n} is not an integer that fits {}", ty.name());
    match v {
        Value::Null => {}
        Value::Bool(b) => match *base {
            Type::BOOL => out.extend_from_slice(&[u8::from(*b)]),
            Type::INT2 => out.extend_from_slice(&i16::from(*b).to_be_bytes()),
            Type::INT4 => out.extend_from_slice(&i32::from(*b).to_be_bytes()),
            Type::INT8 => out.extend_from_slice(&i64::from(*b).to_be_bytes()),
            _ => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        },
        Value::Number(n) => match *base {
            Type::INT2 => {
                let i = integer(n)
                    .and_then(|i| i16::try_from(i).ok())
                    .ok_or_else(|| fits(n))?;
                out.extend_from_slice(&i.to_be_bytes());
            }
            Type::INT4 => {
                let i = integer(n)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| fits(n))?;
                out.extend_from_slice(&i.to_be_bytes());
            }
            Type::INT8 => {
                let i = integer(n).ok_or_else(|| fits(n))?;
                out.extend_from_slice(&i.to_be_bytes());
            }
            Type::FLOAT4 => {
                let f = n.as_f64().unwrap_or(f64::NAN) as f32;
                if !f.is_finite() {
                    return Err(format!("{n} does not fit {}", ty.name()));
                }
                out.extend_from_slice(&f.to_be_bytes());
            }
            Type::FLOAT8 => {
                out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_be_bytes());
            }
            _ => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Array(items) if matches!(base.kind(), Kind::Array(_)) => {
            let mut literal = String::new();
            array_literal(items, &mut literal);
            out.extend_from_slice(literal.as_bytes());
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
    Ok(())
}

/// A JSON array as PostgreSQL's array literal (`{1,"a b",NULL,{2,3}}`).
fn array_literal(items: &[Value], out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Array(inner) => array_literal(inner, out),
            Value::String(s) => quoted_element(s, out),
            other => quoted_element(&other.to_string(), out),
        }
    }
    out.push('}');
}

fn quoted_element(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.0.is_null() {
            return Ok(IsNull::Yes);
        }
        encode(self.0, ty, out)?;
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        if binary(self.0, ty) {
            Format::Binary
        } else {
            Format::Text
        }
    }

    to_sql_checked!();
}

/// `args` as the parameters of a statement whose parameter types are `types`: their number
/// checked (the same error as on SQLite) and each value tried against its type, so that no
/// value fails once the statement is sent.
pub(crate) fn params<'v>(types: &[Type], args: &'v [Value]) -> Result<Vec<Param<'v>>, DataError> {
    if types.len() != args.len() {
        return Err(DataError::ArgCount {
            expected: types.len(),
            given: args.len(),
        });
    }
    let mut scratch = BytesMut::new();
    for (i, (ty, v)) in types.iter().zip(args).enumerate() {
        scratch.clear();
        encode(v, ty, &mut scratch)
            .map_err(|e| DataError::Sql(format!("args[{i}] (parameter ${}): {e}", i + 1)))?;
    }
    Ok(args.iter().map(Param).collect())
}

/// A column's value as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell(pub(crate) Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, BoxError> {
        Ok(Cell(decode(ty, raw)?))
    }

    fn from_sql_null(_: &Type) -> Result<Cell, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Reads the binary format field by field.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the value is shorter than its type says".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    /// A length-prefixed field (`None` for NULL).
    fn field(&mut self) -> Result<Option<&'a [u8]>, String> {
        let len = self.i32()?;
        match usize::try_from(len) {
            Ok(n) => self.take(n).map(Some),
            Err(_) => Ok(None),
        }
    }
}

fn text(raw: &[u8]) -> Result<Value, String> {
    std::str::from_utf8(raw)
        .map(|s| Value::String(s.to_string()))
        .map_err(|e| format!("not UTF-8 text: {e}"))
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A value in PostgreSQL's binary format as JSON.
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Result<Value, String> {
    match ty.kind() {
        Kind::Domain(inner) => return decode(inner, raw),
        Kind::Array(member) => return array(member, raw),
        Kind::Enum(_) => return text(raw),
        Kind::Composite(fields) => {
            let types: Vec<(&str, &Type)> = fields.iter().map(|f| (f.name(), f.type_())).collect();
            return composite(Some(&types), raw);
        }
        _ => {}
    }
    let mut r = Reader(raw);
    Ok(match *ty {
        Type::BOOL => Value::Bool(r.u8()? != 0),
        Type::INT2 => Value::from(r.i16()?),
        Type::INT4 => Value::from(r.i32()?),
        Type::INT8 => Value::from(r.i64()?),
        Type::OID
        | Type::REGPROC
        | Type::REGPROCEDURE
        | Type::REGOPER
        | Type::REGOPERATOR
        | Type::REGCLASS
        | Type::REGTYPE
        | Type::REGCONFIG
        | Type::REGDICTIONARY
        | Type::REGNAMESPACE
        | Type::REGROLE
        | Type::REGCOLLATION
        | Type::XID
        | Type::CID => Value::from(r.u32()?),
        Type::XID8 => Value::from(u64::from_be_bytes(r.array()?)),
        Type::FLOAT4 => float(f64::from(f32::from_be_bytes(r.array()?))),
        Type::FLOAT8 => float(f64::from_be_bytes(r.array()?)),
        Type::NUMERIC => numeric(raw)?,
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::UNKNOWN
        | Type::XML
        | Type::CHAR => text(raw)?,
        Type::JSON => json(raw)?,
        Type::JSONB | Type::JSONPATH => match raw.split_first() {
            Some((1, rest)) if *ty == Type::JSONB => json(rest)?,
            Some((1, rest)) => text(rest)?,
            _ => return Err(format!("unknown {} format version", ty.name())),
        },
        Type::BYTEA => Value::String(hex(raw)),
        Type::UUID => Value::String(uuid(raw)?),
        Type::DATE => Value::String(date(r.i32()?)),
        Type::TIMESTAMP => Value::String(timestamp(r.i64()?, "")),
        Type::TIMESTAMPTZ => Value::String(timestamp(r.i64()?, "+00")),
        Type::TIME => Value::String(time_of_day(r.i64()?)),
        Type::TIMETZ => {
            let micros = r.i64()?;
            let west = r.i32()?;
            Value::String(format!("{}{}", time_of_day(micros), offset(-west)))
        }
        Type::INTERVAL => {
            let micros = r.i64()?;
            let days = r.i32()?;
            let months = r.i32()?;
            Value::String(interval(months, days, micros))
        }
        Type::INET | Type::CIDR => Value::String(inet(raw, *ty == Type::CIDR)?),
        Type::MACADDR | Type::MACADDR8 => Value::String(
            raw.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        Type::BIT | Type::VARBIT => {
            let bits = usize::try_from(r.i32()?).unwrap_or(0);
            let bytes = r.0;
            Value::String(
                (0..bits)
                    .map(|i| {
                        let byte = bytes.get(i / 8).copied().unwrap_or(0);
                        if byte & (0x80 >> (i % 8)) != 0 {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect(),
            )
        }
        Type::VOID => Value::Null,
        Type::RECORD => composite(None, raw)?,
        _ if ty.name() == "citext" => text(raw)?,
        _ => {
            return Err(format!(
                "flowdeck has no JSON form for PostgreSQL type {}",
                ty.name()
            ));
        }
    })
}

fn json(raw: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(raw).map_err(|e| format!("invalid JSON from the server: {e}"))
}

fn hex(raw: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(raw.len() * 2);
    for b in raw {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn uuid(raw: &[u8]) -> Result<String, String> {
    if raw.len() != 16 {
        return Err("a uuid is 16 bytes".into());
    }
    let h = hex(raw);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// An array (of any number of dimensions) as nested JSON arrays.
fn array(member: &Type, raw: &[u8]) -> Result<Value, String> {
    let mut r = Reader(raw);
    let dimensions = usize::try_from(r.i32()?).map_err(|_| "negative dimensions")?;
    let _has_nulls = r.i32()?;
    let _member_oid = r.u32()?;
    let mut lengths = Vec::with_capacity(dimensions);
    for _ in 0..dimensions {
        lengths.push(usize::try_from(r.i32()?).map_err(|_| "negative length")?);
        let _lower_bound = r.i32()?;
    }
    if lengths.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    fn level(member: &Type, lengths: &[usize], r: &mut Reader<'_>) -> Result<Value, String> {
        let Some((&n, rest)) = lengths.split_first() else {
            return match r.field()? {
                Some(raw) => decode(member, raw),
                None => Ok(Value::Null),
            };
        };
        (0..n)
            .map(|_| level(member, rest, r))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    }
    level(member, &lengths, &mut r)
}

/// A composite value: an object by field name when its fields are known, else (an
/// anonymous `record`) an array of its values.
fn composite(fields: Option<&[(&str, &Type)]>, raw: &[u8]) -> Result<Value, String> {
    let mut r = Reader(raw);
    let count = usize::try_from(r.i32()?).map_err(|_| "negative field count")?;
    let mut object = Map::new();
    let mut list = Vec::with_capacity(count);
    for i in 0..count {
        let oid = r.u32()?;
        let value = r.field()?;
        let known = fields.and_then(|f| f.get(i));
        let ty = match known {
            Some((_, ty)) => (*ty).clone(),
            None => Type::from_oid(oid).ok_or_else(|| {
                format!("a field of the record has a type flowdeck does not know (oid {oid})")
            })?,
        };
        let v = match value {
            Some(raw) => decode(&ty, raw)?,
            None => Value::Null,
        };
        match known {
            Some((name, _)) => {
                object.insert((*name).to_string(), v);
            }
            None => list.push(v),
        }
    }
    Ok(if fields.is_some() {
        Value::Object(object)
    } else {
        Value::Array(list)
    })
}

/// `numeric` as its exact decimal text (PostgreSQL's), then as JSON.
fn numeric(raw: &[u8]) -> Result<Value, String> {
    let text = numeric_text(raw)?;
    Ok(numeric_json(text))
}

fn numeric_text(raw: &[u8]) -> Result<String, String> {
    let mut r = Reader(raw);
    let ndigits = usize::from(r.u16()?);
    let weight = i32::from(r.i16()?);
    let sign = r.u16()?;
    let dscale = usize::from(r.u16()?);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|_| r.i16())
        .collect::<Result<Vec<_>, _>>()?;
    let digit = |i: i32| -> i16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for d in 0..=weight {
            if d == 0 {
                s.push_str(&digit(d).to_string());
            } else {
                s.push_str(&format!("{:04}", digit(d)));
            }
        }
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(dscale);
        s.push_str(&frac);
    }
    Ok(s)
}

/// Decimal text as a JSON number when that loses nothing (an integer of 64 bits, or 15
/// significant digits at most), else as the text.
fn numeric_json(text: String) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::from(u);
    }
    let significant = text
        .trim_start_matches('-')
        .replace('.', "")
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len();
    if text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == '.')
        && significant <= 15
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

/// PostgreSQL's epoch (2000-01-01) in days since 1970-01-01.
const EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// (year, month, day) of a day counted from 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A day (from PostgreSQL's epoch) as `YYYY-MM-DD` and its era suffix.
fn day_text(days: i64) -> (String, &'static str) {
    let (y, m, d) = civil(days + EPOCH_DAYS);
    if y <= 0 {
        (format!("{:04}-{m:02}-{d:02}", 1 - y), " BC")
    } else {
        (format!("{y:04}-{m:02}-{d:02}"), "")
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => {
            let (day, era) = day_text(i64::from(days));
            format!("{day}{era}")
        }
    }
}

fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => {
            let (day, era) = day_text(micros.div_euclid(MICROS_PER_DAY));
            let time = time_of_day(micros.rem_euclid(MICROS_PER_DAY));
            format!("{day} {time}{zone}{era}")
        }
    }
}

/// `HH:MM:SS` with the fraction of a second PostgreSQL shows (trailing zeros dropped).
fn time_of_day(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let mut s = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// A UTC offset in seconds east as `+HH`, `+HH:MM` or `+HH:MM:SS`.
fn offset(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{s:02}"),
    }
}

/// An interval as PostgreSQL writes it (`IntervalStyle` `postgres`): `1 year 2 mons
/// 3 days 04:05:06`, a `+` before a positive field that follows a negative one.
fn interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut negative_before = false;
    let mut field = |value: i64, unit: &str, parts: &mut Vec<String>| {
        if value == 0 {
            return;
        }
        let plus = if value > 0 && negative_before {
            "+"
        } else {
            ""
        };
        negative_before |= value < 0;
        let s = if value == 1 { "" } else { "s" };
        parts.push(format!("{plus}{value} {unit}{s}"));
    };
    field(i64::from(months / 12), "year", &mut parts);
    field(i64::from(months % 12), "mon", &mut parts);
    field(i64::from(days), "day", &mut parts);
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 {
            "-"
        } else if negative_before {
            "+"
        } else {
            ""
        };
        let a = micros.unsigned_abs();
        let (secs, frac) = (a / 1_000_000, a % 1_000_000);
        let mut t = format!(
            "{sign}{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        );
        if frac != 0 {
            t.push('.');
            t.push_str(format!("{frac:06}").trim_end_matches('0'));
        }
        parts.push(t);
    }
    parts.join(" ")
}

/// `inet`/`cidr`: the address, and `/bits` unless an `inet` holds one whole address.
fn inet(raw: &[u8], cidr: bool) -> Result<String, String> {
    let mut r = Reader(raw);
    let family = r.u8()?;
    let bits = r.u8()?;
    let _is_cidr = r.u8()?;
    let len = usize::from(r.u8()?);
    let addr = r.take(len)?;
    let (text, full) = match (family, addr.len()) {
        (2, 4) => (
            std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
            32,
        ),
        (3, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(addr);
            (std::net::Ipv6Addr::from(a).to_string(), 128)
        }
        _ => return Err("an address of an unknown family".into()),
    };
    Ok(if cidr || bits != full {
        format!("{text}/{bits}")
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encoded(v: Value, ty: &Type) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        encode(&v, ty, &mut out).map(|()| out.to_vec())
    }

    #[test]
    fn integers_are_range_checked_and_floats_go_to_float_types() {
        assert_eq!(encoded(json!(7), &Type::INT2).unwrap(), vec![0, 7]);
        assert_eq!(encoded(json!(3.0), &Type::INT4).unwrap(), vec![0, 0, 0, 3]);
        assert!(encoded(json!(70000), &Type::INT2).is_err());
        assert!(encoded(json!(1.5), &Type::INT8).is_err());
        assert!(encoded(json!(u64::MAX), &Type::INT8).is_err());
        assert!(encoded(json!(1e300), &Type::FLOAT4).is_err());
        assert_eq!(
            encoded(json!(1.5), &Type::FLOAT8).unwrap(),
            1.5f64.to_be_bytes().to_vec()
        );
        assert_eq!(
            encoded(json!(true), &Type::INT8).unwrap(),
            1i64.to_be_bytes()
        );
        // text for the server to read as its type
        assert_eq!(encoded(json!(1.25), &Type::NUMERIC).unwrap(), b"1.25");
        assert_eq!(encoded(json!("12"), &Type::INT8).unwrap(), b"12");
        assert_eq!(
            encoded(json!({"a": 1}), &Type::JSONB).unwrap(),
            b"{\"a\":1}"
        );
        assert_eq!(
            encoded(json!([1, "a \"b\"", null, [2]]), &Type::TEXT_ARRAY).unwrap(),
            b"{1,\"a \\\"b\\\"\",NULL,{2}}"
        );
        assert_eq!(encoded(json!([1, 2]), &Type::TEXT).unwrap(), b"[1,2]");
    }

    #[test]
    fn the_args_count_and_types_are_checked_before_anything_is_sent() {
        assert_eq!(
            params(&[Type::INT8], &[]).unwrap_err(),
            DataError::ArgCount {
                expected: 1,
                given: 0
            }
        );
        let e = params(&[Type::TEXT, Type::INT4], &[json!("a"), json!(1.5)]).unwrap_err();
        assert!(e.to_string().contains("args[1] (parameter $2)"), "{e}");
    }

    fn numeric_raw(weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(digits.len() as u16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_are_numbers_when_nothing_is_lost() {
        // 12345.6789
        let raw = numeric_raw(1, 0, 4, &[1, 2345, 6789]);
        assert_eq!(numeric_text(&raw).unwrap(), "12345.6789");
        assert_eq!(numeric(&raw).unwrap(), json!(12345.6789));
        // -0.05
        let raw = numeric_raw(-1, 0x4000, 2, &[500]);
        assert_eq!(numeric_text(&raw).unwrap(), "-0.05");
        // 2.5000 (an average)
        assert_eq!(
            numeric(&numeric_raw(0, 0, 4, &[2, 5000])).unwrap(),
            json!(2.5)
        );
        // 10000 (integer, dscale 0)
        assert_eq!(numeric(&numeric_raw(1, 0, 0, &[1])).unwrap(), json!(10000));
        // 0.33333333333333333333: kept exact, as text
        let raw = numeric_raw(-1, 0, 20, &[3333, 3333, 3333, 3333, 3333]);
        assert_eq!(numeric(&raw).unwrap(), json!("0.33333333333333333333"));
        assert_eq!(
            numeric(&numeric_raw(0, 0xC000, 0, &[])).unwrap(),
            json!("NaN")
        );
        assert_eq!(numeric(&numeric_raw(0, 0, 0, &[])).unwrap(), json!(0));
    }

    #[test]
    fn times_are_written_as_postgresql_writes_them() {
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-730_119), "0001-01-01");
        assert_eq!(date(-730_120), "0001-12-31 BC");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_500_000, ""),
            "2000-01-02 01:02:03.5"
        );
        assert_eq!(timestamp(-1, "+00"), "1999-12-31 23:59:59.999999+00");
        assert_eq!(time_of_day(45_296_000_000), "12:34:56");
        assert_eq!(offset(-(5 * 3600 + 30 * 60)), "-05:30");
        assert_eq!(
            interval(14, 3, 4 * 3_600_000_000 + 5_000_000),
            "1 year 2 mons 3 days 04:00:05"
        );
        assert_eq!(interval(0, -1, 3_600_000_000), "-1 days +01:00:00");
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(-12, 0, 0), "-1 years");
    }

    #[test]
    fn arrays_of_any_dimension_and_unknown_types() {
        // int4[][] {{1,2},{3,NULL}}
        let mut raw = Vec::new();
        for x in [2i32, 1, 23, 2, 1, 2, 1] {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        for x in [Some(1i32), Some(2), Some(3), None] {
            match x {
                Some(x) => {
                    raw.extend_from_slice(&4i32.to_be_bytes());
                    raw.extend_from_slice(&x.to_be_bytes());
                }
                None => raw.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        assert_eq!(
            decode(&Type::INT4_ARRAY, &raw).unwrap(),
            json!([[1, 2], [3, null]])
        );
        let e = decode(&Type::POINT, &[0; 16]).unwrap_err();
        assert!(e.contains("point"), "{e}");
    }
}
