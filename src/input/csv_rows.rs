//! Reading a CSV input: a header of known column names, then rows of values in the form's
//! column order. Shared by `text/csv` ingestion and `kaledger import`.

use super::InputError;

/// A CSV source whose header uses only known column names, each once; rows come out as
/// values in `columns` order (empty fields are absent).
pub struct CsvRows<R: std::io::Read> {
    reader: csv::Reader<R>,
    index_of: Vec<Option<usize>>,
    record: csv::StringRecord,
    row: usize,
}

impl<R: std::io::Read> CsvRows<R> {
    /// Reads and checks the header.
    pub fn new(source: R, columns: &[&str]) -> Result<CsvRows<R>, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            // Header names may be padded; values are taken as written (" 5" is refused).
            .trim(csv::Trim::Headers)
            .from_reader(source);
        let headers = reader
            .headers()
            .map_err(|e| {
                InputError::invalid("malformed_csv", format!("unreadable CSV header: {e}"))
            })?
            .clone();
        let mut index_of = vec![None; columns.len()];
        for (i, name) in headers.iter().enumerate() {
            match columns.iter().position(|c| *c == name) {
                None => {
                    return Err(InputError::invalid(
                        "unknown_column",
                        format!(
                            "unknown column \"{name}\"; expected some of {}",
                            columns.join(", ")
                        ),
                    ))
                }
                Some(c) if index_of[c].is_some() => {
                    return Err(InputError::invalid(
                        "duplicate_column",
                        format!("column \"{name}\" appears twice"),
                    ))
                }
                Some(c) => index_of[c] = Some(i),
            }
        }
        Ok(CsvRows {
            reader,
            index_of,
            record: csv::StringRecord::new(),
            row: 0,
        })
    }

    /// The next row, or None at the end.
    pub fn next_row(&mut self) -> Result<Option<Vec<Option<String>>>, InputError> {
        self.row += 1;
        let more = self.reader.read_record(&mut self.record).map_err(|e| {
            InputError::invalid("malformed_csv", format!("CSV data row {}: {e}", self.row))
        })?;
        if !more {
            return Ok(None);
        }
        let record = &self.record;
        Ok(Some(
            self.index_of
                .iter()
                .map(|i| {
                    i.and_then(|i| record.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                })
                .collect(),
        ))
    }

    /// Bytes read so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}
