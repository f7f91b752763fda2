//! Byte arrays as Python's `Array('c', n)`: `value` is the bytes up to the
//! first NUL, `raw` is all of them, for [`Array<u8>`] (under its lock) and
//! [`RawArray<u8>`].

use super::bounds::{ArrayError, BoundsError};
use super::locked::{settle, Array, ArrayGuard};
use super::raw::RawArray;
use crate::api::outcome::OwnerDied;
use crate::api::value::claim::AccessError;
use crate::raw::Acquired;

/// The bytes before the first NUL (all of them if there is none).
fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(nul) => &bytes[..nul],
        None => bytes,
    }
}

/// Checks that `len` bytes fit an array of `capacity`.
fn check_fits(len: usize, capacity: usize) -> Result<(), BoundsError> {
    if len <= capacity {
        Ok(())
    } else {
        Err(BoundsError::TooLong { len, capacity })
    }
}

/// Writes `bytes` as Python's `value` setter does: the bytes, then a NUL if
/// there is room for one. The rest is left as it was.
fn write_value(array: &mut [u8], bytes: &[u8]) {
    array[..bytes.len()].copy_from_slice(bytes);
    if let Some(after) = array.get_mut(bytes.len()) {
        *after = 0;
    }
}

impl Array<u8> {
    /// Python's `a.value` for a byte array: the bytes up to the first NUL
    /// (all of them if there is none), read under the lock.
    ///
    /// # Errors
    ///
    /// As for [`Value::get`](crate::Value::get): on `OwnerDied` the bytes
    /// were read and the error's guard holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = shmsync::Array::from_slice(b"ab\0cd")?;
    /// assert_eq!(name.value()?, b"ab");
    /// assert_eq!(name.raw()?, b"ab\0cd");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn value(&self) -> Result<Vec<u8>, AccessError<ArrayGuard<'_, u8>>> {
        self.read_all(|bytes| until_nul(bytes).to_vec())
    }

    /// Python's `a.value = bytes`: writes `bytes`, then a NUL if there is
    /// room for one, under the lock. The bytes after that are left as they
    /// were.
    ///
    /// # Errors
    ///
    /// [`BoundsError::TooLong`] if `bytes` is longer than the array
    /// (nothing is written); otherwise as for [`Value::set`](crate::Value::set).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Array, ArrayError, BoundsError};
    ///
    /// let name = Array::<u8>::new(4)?;
    /// name.set_value(b"abc")?;
    /// assert_eq!(name.value()?, b"abc");
    /// assert!(matches!(
    ///     name.set_value(b"abcde"),
    ///     Err(ArrayError::Bounds(BoundsError::TooLong { len: 5, capacity: 4 }))
    /// ));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), ArrayError<ArrayGuard<'_, u8>>> {
        check_fits(bytes.len(), self.len())?;
        let (mut guard, acquired) = self.guard()?;
        write_value(&mut guard, bytes);
        settle(guard, acquired)
    }

    /// Python's `a.raw`: every byte of the array, read under the lock.
    ///
    /// # Errors
    ///
    /// As for [`value`](Array::value).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<u8>::new(3)?;
    /// assert_eq!(a.raw()?, [0, 0, 0]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn raw(&self) -> Result<Vec<u8>, AccessError<ArrayGuard<'_, u8>>> {
        self.read_all(<[u8]>::to_vec)
    }

    /// Python's `a.raw = bytes`: writes `bytes` at the start of the array,
    /// under the lock; no NUL is added, and the bytes after are left as
    /// they were.
    ///
    /// # Errors
    ///
    /// As for [`set_value`](Array::set_value).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::from_slice(b"xxxx")?;
    /// a.set_raw(b"ab")?;
    /// assert_eq!(a.raw()?, b"abxx");
    /// assert!(a.set_raw(b"abcde").is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn set_raw(&self, bytes: &[u8]) -> Result<(), ArrayError<ArrayGuard<'_, u8>>> {
        check_fits(bytes.len(), self.len())?;
        let (mut guard, acquired) = self.guard()?;
        guard[..bytes.len()].copy_from_slice(bytes);
        settle(guard, acquired)
    }

    /// `read` applied to every byte, under the lock.
    #[allow(clippy::type_complexity)]
    fn read_all(
        &self,
        read: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Result<Vec<u8>, AccessError<ArrayGuard<'_, u8>>> {
        let (guard, acquired) = self.guard()?;
        let bytes = read(&guard);
        match acquired {
            Acquired::Clean => Ok(bytes),
            Acquired::OwnerDied => Err(AccessError::OwnerDied(OwnerDied::new(guard))),
        }
    }
}

impl RawArray<u8> {
    /// Python's `a.value` for a raw byte array: the bytes up to the first
    /// NUL (all of them if there is none). Not a snapshot if written
    /// meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::from_slice(b"hi\0!")?;
    /// assert_eq!(a.value(), b"hi");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn value(&self) -> Vec<u8> {
        let mut bytes = self.raw();
        let len = until_nul(&bytes).len();
        bytes.truncate(len);
        bytes
    }

    /// Python's `a.value = bytes`: writes `bytes`, then a NUL if there is
    /// room for one; the bytes after that are left as they were.
    ///
    /// # Errors
    ///
    /// [`BoundsError::TooLong`] if `bytes` is longer than the array
    /// (nothing is written).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::<u8>::new(2)?;
    /// a.set_value(b"ok")?;
    /// assert_eq!(a.value(), b"ok");
    /// assert!(a.set_value(b"too long").is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn set_value(&self, bytes: &[u8]) -> Result<(), BoundsError> {
        check_fits(bytes.len(), self.len())?;
        self.write_range(..bytes.len(), bytes)?;
        if bytes.len() < self.len() {
            self.set(bytes.len(), 0)?;
        }
        Ok(())
    }

    /// Python's `a.raw`: every byte of the array.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::from_slice(b"a\0b")?;
    /// assert_eq!(a.raw(), b"a\0b");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn raw(&self) -> Vec<u8> {
        match self.to_vec(..) {
            Ok(bytes) => bytes,
            Err(_) => unreachable!("the whole range always fits"),
        }
    }

    /// Python's `a.raw = bytes`: writes `bytes` at the start of the array;
    /// no NUL is added.
    ///
    /// # Errors
    ///
    /// [`BoundsError::TooLong`] if `bytes` is longer than the array
    /// (nothing is written).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::<u8>::new(3)?;
    /// a.set_raw(b"ab")?;
    /// assert_eq!(a.raw(), b"ab\0");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn set_raw(&self, bytes: &[u8]) -> Result<(), BoundsError> {
        check_fits(bytes.len(), self.len())?;
        self.write_range(..bytes.len(), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stops_at_the_first_nul_and_writes_one_only_if_it_fits() {
        assert_eq!(until_nul(b"ab\0c\0"), b"ab");
        assert_eq!(until_nul(b"abc"), b"abc");
        let mut array = *b"xxxx";
        write_value(&mut array, b"ab");
        assert_eq!(&array, b"ab\0x");
        write_value(&mut array, b"abcd");
        assert_eq!(&array, b"abcd");
        assert_eq!(
            check_fits(5, 4),
            Err(BoundsError::TooLong {
                len: 5,
                capacity: 4
            })
        );
    }
}
