//! STUB (local only, replaced by the helper's module).
use super::columns::BundleColumn;
use super::BundleError;
use crate::mapping::convert::RawRow;
pub struct CsvTableWriter<W: std::io::Write> {
    out: W,
}
impl<W: std::io::Write> CsvTableWriter<W> {
    pub fn new(out: W, _columns: &[BundleColumn]) -> Result<Self, BundleError> {
        Ok(Self { out })
    }
    pub fn write_rows<R: RawRow>(&mut self, _rows: &[R]) -> Result<(), BundleError> {
        Ok(())
    }
    pub fn finish(self) -> Result<W, BundleError> {
        Ok(self.out)
    }
}
pub struct CsvTableReader<R: std::io::Read> {
    _input: R,
}
impl<R: std::io::Read> CsvTableReader<R> {
    pub fn open(input: R, _columns: &[BundleColumn]) -> Result<Self, BundleError> {
        Ok(Self { _input: input })
    }
    pub fn next_batch(&mut self) -> Result<Option<Vec<Vec<Option<Vec<u8>>>>>, BundleError> {
        Ok(None)
    }
}
pub const CONVENTION: &str = "stub";
