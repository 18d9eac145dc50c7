//! The wire codec is the first code to touch bytes from the network and the only code that
//! knows the layout. A panic here is a remote crash, and a decode that drops or alters a bit
//! would make this side disagree with the C reference about what a segment said. So any bytes
//! must walk without panicking, every header that decodes must encode back to exactly the
//! bytes it came from, and the walk must account for every byte it skips.

#![no_main]

use kcp_core::wire::{conv_of, DecodeError, Header, Segments, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Header::decode(data) {
        Ok(header) => assert_eq!(conv_of(data), Some(header.conv)),
        Err(_) => assert_eq!(conv_of(data).is_some(), data.len() >= 4),
    }

    let mut offset = 0;
    let mut walk = Segments::new(data);
    let failure = loop {
        let segment = match walk.next() {
            None => break None,
            Some(Err(e)) => break Some(e),
            Some(Ok(segment)) => segment,
        };
        let (header_bytes, body) = data[offset..].split_at(HEADER_LEN);
        assert_eq!(Header::decode(header_bytes), Ok(segment.header));
        let mut encoded = [0u8; HEADER_LEN];
        segment.header.encode(&mut encoded);
        assert_eq!(&encoded[..], header_bytes, "re-encoding changed the header");
        let len = segment.payload.len();
        assert_eq!(u32::try_from(len), Ok(segment.header.len));
        assert_eq!(
            segment.payload,
            &body[..len],
            "payload is not the bytes that follow"
        );
        offset += HEADER_LEN + len;
    };
    assert!(walk.next().is_none(), "the walk went on after it ended");

    // A failed walk stops at the segment it could not decode; a clean one leaves a short tail.
    let rest = &data[offset..];
    assert_eq!(walk.trailing(), rest.len());
    match failure {
        None => assert!(rest.len() < HEADER_LEN),
        Some(DecodeError::TruncatedPayload { len, available }) => {
            assert_eq!(available, rest.len() - HEADER_LEN);
            assert!(usize::try_from(len).map_or(true, |len| len > available));
        }
        Some(e) => assert_eq!(Header::decode(rest), Err(e)),
    }
});
