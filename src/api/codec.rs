//! The one decoding rule of every serde message (pipes' `recv`, byte
//! queues' `get_value`): a message is one whole value of the type asked for.

/// Decodes `msg` as one `T`, and nothing more.
///
/// postcard's own `from_bytes` stops at the end of the value and ignores
/// what follows, so a message holding another type often decodes "fine"
/// (a `(u64, String)` read as a `u64` gives its first field). A message
/// with bytes left over is not a `T`, so it is refused as a bad encoding.
pub(crate) fn decode_whole<T: serde::de::DeserializeOwned>(
    msg: &[u8],
) -> Result<T, postcard::Error> {
    match postcard::take_from_bytes(msg)? {
        (value, []) => Ok(value),
        (_, _left_over) => Err(postcard::Error::DeserializeBadEncoding),
    }
}

#[cfg(test)]
mod tests {
    use super::decode_whole;

    #[test]
    fn a_whole_value_decodes_and_one_with_bytes_left_over_does_not() {
        let pair = postcard::to_allocvec(&(7u64, "hello")).unwrap();
        assert_eq!(
            decode_whole::<(u64, String)>(&pair).unwrap(),
            (7, "hello".into())
        );
        assert_eq!(
            decode_whole::<u64>(&pair),
            Err(postcard::Error::DeserializeBadEncoding),
            "the first field alone is not the message"
        );
        assert!(decode_whole::<u64>(&[]).is_err(), "too short");
    }
}
