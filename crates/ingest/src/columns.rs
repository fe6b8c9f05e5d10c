//! Column buffers that a row is parsed straight into and that can be cut back when a later
//! field of the same row turns out bad, then handed to Arrow without copying.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, ListArray, StringArray,
    TimestampMillisecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};

/// The values of one column of one output file, plus validity.
#[derive(Debug)]
pub(crate) enum ColBuf {
    I64(Vec<i64>, Vec<bool>),
    Ts(Vec<i64>, Vec<bool>),
    Date(Vec<i32>, Vec<bool>),
    F64(Vec<f64>, Vec<bool>),
    Bool(Vec<bool>, Vec<bool>),
    Str {
        offsets: Vec<i32>,
        data: Vec<u8>,
        valid: Vec<bool>,
    },
    /// A list of strings per row.
    List {
        offsets: Vec<i32>,
        items: Vec<i32>,
        data: Vec<u8>,
        valid: Vec<bool>,
    },
}

impl ColBuf {
    /// An empty buffer for `dt`, with room for about `rows` rows.
    pub(crate) fn for_type(dt: &DataType, rows: usize) -> ColBuf {
        let offsets = || {
            let mut o = Vec::with_capacity(rows + 1);
            o.push(0);
            o
        };
        match dt {
            DataType::Int64 => ColBuf::I64(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Timestamp(..) => {
                ColBuf::Ts(Vec::with_capacity(rows), Vec::with_capacity(rows))
            }
            DataType::Date32 => ColBuf::Date(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Float64 => ColBuf::F64(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Boolean => ColBuf::Bool(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            DataType::Utf8 => ColBuf::Str {
                offsets: offsets(),
                data: Vec::with_capacity(rows * 8),
                valid: Vec::with_capacity(rows),
            },
            DataType::List(_) => ColBuf::List {
                offsets: offsets(),
                items: vec![0],
                data: Vec::new(),
                valid: Vec::with_capacity(rows),
            },
            other => unreachable!("stored schemas use no {other}"),
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            ColBuf::I64(v, n) | ColBuf::Ts(v, n) => {
                v.push(0);
                n.push(false);
            }
            ColBuf::Date(v, n) => {
                v.push(0);
                n.push(false);
            }
            ColBuf::F64(v, n) => {
                v.push(0.0);
                n.push(false);
            }
            ColBuf::Bool(v, n) => {
                v.push(false);
                n.push(false);
            }
            ColBuf::Str {
                offsets,
                data,
                valid,
            } => {
                offsets.push(data.len() as i32);
                valid.push(false);
            }
            ColBuf::List {
                offsets,
                items,
                valid,
                ..
            } => {
                offsets.push(items.len() as i32 - 1);
                valid.push(false);
            }
        }
    }

    pub(crate) fn push_i64(&mut self, x: i64) {
        match self {
            ColBuf::I64(v, n) | ColBuf::Ts(v, n) => {
                v.push(x);
                n.push(true);
            }
            _ => unreachable!("column is not 64-bit integer"),
        }
    }

    pub(crate) fn push_date(&mut self, x: i32) {
        let ColBuf::Date(v, n) = self else {
            unreachable!("column is not a date")
        };
        v.push(x);
        n.push(true);
    }

    pub(crate) fn push_f64(&mut self, x: f64) {
        let ColBuf::F64(v, n) = self else {
            unreachable!("column is not a float")
        };
        v.push(x);
        n.push(true);
    }

    pub(crate) fn push_bool(&mut self, x: bool) {
        let ColBuf::Bool(v, n) = self else {
            unreachable!("column is not a boolean")
        };
        v.push(x);
        n.push(true);
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        let ColBuf::Str {
            offsets,
            data,
            valid,
        } = self
        else {
            unreachable!("column is not text")
        };
        data.extend_from_slice(s.as_bytes());
        offsets.push(data.len() as i32);
        valid.push(true);
    }

    pub(crate) fn push_list<'a>(&mut self, values: impl Iterator<Item = &'a str>) {
        let ColBuf::List {
            offsets,
            items,
            data,
            valid,
        } = self
        else {
            unreachable!("column is not a list")
        };
        for s in values {
            data.extend_from_slice(s.as_bytes());
            items.push(data.len() as i32);
        }
        offsets.push(items.len() as i32 - 1);
        valid.push(true);
    }

    /// The value of the last row as a number (instants, dates), if present.
    pub(crate) fn last_number(&self) -> Option<i64> {
        match self {
            ColBuf::I64(v, n) | ColBuf::Ts(v, n) => n
                .last()
                .copied()
                .filter(|&x| x)
                .map(|_| *v.last().expect("same length")),
            ColBuf::Date(v, n) => n
                .last()
                .copied()
                .filter(|&x| x)
                .map(|_| i64::from(*v.last().expect("same length"))),
            _ => None,
        }
    }

    /// The text of the last row, if present.
    pub(crate) fn last_str(&self) -> Option<&str> {
        let ColBuf::Str {
            offsets,
            data,
            valid,
        } = self
        else {
            return None;
        };
        if !valid.last().copied().unwrap_or(false) {
            return None;
        }
        let n = offsets.len();
        let (a, b) = (offsets[n - 2] as usize, offsets[n - 1] as usize);
        std::str::from_utf8(&data[a..b]).ok()
    }

    /// Cuts the column back to `rows` rows.
    pub(crate) fn truncate(&mut self, rows: usize) {
        match self {
            ColBuf::I64(v, n) | ColBuf::Ts(v, n) => {
                v.truncate(rows);
                n.truncate(rows);
            }
            ColBuf::Date(v, n) => {
                v.truncate(rows);
                n.truncate(rows);
            }
            ColBuf::F64(v, n) => {
                v.truncate(rows);
                n.truncate(rows);
            }
            ColBuf::Bool(v, n) => {
                v.truncate(rows);
                n.truncate(rows);
            }
            ColBuf::Str {
                offsets,
                data,
                valid,
            } => {
                if valid.len() > rows {
                    offsets.truncate(rows + 1);
                    data.truncate(offsets[rows] as usize);
                    valid.truncate(rows);
                }
            }
            ColBuf::List {
                offsets,
                items,
                data,
                valid,
            } => {
                if valid.len() > rows {
                    offsets.truncate(rows + 1);
                    let keep_items = offsets[rows] as usize + 1;
                    items.truncate(keep_items);
                    data.truncate(items[keep_items - 1] as usize);
                    valid.truncate(rows);
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match self {
            ColBuf::I64(_, n)
            | ColBuf::Ts(_, n)
            | ColBuf::Date(_, n)
            | ColBuf::F64(_, n)
            | ColBuf::Bool(_, n) => n.len(),
            ColBuf::Str { valid, .. } | ColBuf::List { valid, .. } => valid.len(),
        }
    }

    /// Hands the buffers to Arrow as an array of `dt`.
    pub(crate) fn finish(self, dt: &DataType) -> ArrayRef {
        fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
            if valid.iter().all(|&v| v) {
                None
            } else {
                Some(NullBuffer::from(valid))
            }
        }
        match (self, dt) {
            (ColBuf::I64(v, n), _) => Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls(n))),
            (ColBuf::Ts(v, n), DataType::Timestamp(_, tz)) => Arc::new(
                TimestampMillisecondArray::new(ScalarBuffer::from(v), nulls(n))
                    .with_timezone_opt(tz.clone()),
            ),
            (ColBuf::Date(v, n), _) => Arc::new(Date32Array::new(ScalarBuffer::from(v), nulls(n))),
            (ColBuf::F64(v, n), _) => Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls(n))),
            (ColBuf::Bool(v, n), _) => {
                Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls(n)))
            }
            (
                ColBuf::Str {
                    offsets,
                    data,
                    valid,
                },
                _,
            ) => Arc::new(utf8_array(offsets, data, nulls(valid))),
            (
                ColBuf::List {
                    offsets,
                    items,
                    data,
                    valid,
                },
                DataType::List(field),
            ) => {
                let values = utf8_array(items, data, None);
                let field: Arc<Field> = field.clone();
                Arc::new(ListArray::new(
                    field,
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    Arc::new(values),
                    nulls(valid),
                ))
            }
            (_, dt) => unreachable!("buffer does not match {dt}"),
        }
    }
}

/// A string array from buffers filled only by [`ColBuf::push_str`] and [`ColBuf::push_list`].
#[allow(unsafe_code)]
fn utf8_array(offsets: Vec<i32>, data: Vec<u8>, nulls: Option<NullBuffer>) -> StringArray {
    debug_assert!(std::str::from_utf8(&data).is_ok());
    debug_assert!(
        offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last().is_some_and(|&o| o as usize == data.len())
    );
    // SAFETY: `data` is a concatenation of `&str` values and `offsets` are the boundaries
    // between them (monotonic, starting at 0, ending at `data.len()`), so every slice is valid
    // UTF-8. This skips Arrow re-validating every byte already validated on the way in.
    unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            nulls,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn truncation_undoes_a_partial_row() {
        let mut s = ColBuf::for_type(&DataType::Utf8, 0);
        s.push_str("a");
        s.push_str("bcd");
        s.truncate(1);
        s.push_null();
        s.push_str("ef");
        let a = s.finish(&DataType::Utf8);
        let a = a.as_string::<i32>();
        assert_eq!(a.len(), 3);
        assert_eq!(a.value(0), "a");
        assert!(a.is_null(1));
        assert_eq!(a.value(2), "ef");

        let dt = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        let mut l = ColBuf::for_type(&dt, 0);
        l.push_list(["420100", "420500"].into_iter());
        l.push_list(["110000"].into_iter());
        l.truncate(1);
        l.push_null();
        l.push_list(std::iter::empty());
        l.push_list(["330100"].into_iter());
        let a = l.finish(&dt);
        let a = a.as_list::<i32>();
        assert_eq!(a.len(), 4);
        assert_eq!(
            a.value(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .collect::<Vec<_>>(),
            ["420100", "420500"]
        );
        assert!(a.is_null(1));
        assert_eq!(a.value(2).len(), 0);
        assert_eq!(a.value(3).as_string::<i32>().value(0), "330100");

        let mut i = ColBuf::for_type(&DataType::Int64, 4);
        i.push_i64(5);
        assert_eq!(i.last_number(), Some(5));
        i.push_null();
        assert_eq!(i.last_number(), None);
        i.truncate(0);
        assert_eq!(i.len(), 0);
    }
}
