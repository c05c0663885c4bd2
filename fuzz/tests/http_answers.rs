//! Reading an HTTP/1.1 answer never panics and does not depend on how the
//! answer is cut: the `http` seeds mutated at random (bytes flipped, cut,
//! spliced with framing text), run through the `http` target (which reads
//! each answer whole and in pieces and compares), as a property test.

use proptest::prelude::*;
use till_fuzz::http;

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/http");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("http corpus")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("seed"))
        .collect();
    out.sort();
    assert!(out.len() >= 5, "only {} http seeds", out.len());
    out
}

fn splice() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"ffffffff\r\n".to_vec()),
        Just(b";ext=1".to_vec()),
        Just(vec![b'a'; 600]),
        proptest::collection::vec(any::<u8>(), 1..16),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_answers_read_the_same_in_any_pieces(
        pick in any::<usize>(),
        piece in any::<u8>(),
        at in any::<usize>(),
        cut in 0usize..32,
        text in splice(),
    ) {
        let seeds = seeds();
        let mut answer = seeds[pick % seeds.len()].clone();
        answer[0] = piece;
        let at = 1 + at % answer.len();
        let end = (at + cut).min(answer.len());
        answer.splice(at..end, text);
        http(&answer);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        http(&bytes);
    }
}
