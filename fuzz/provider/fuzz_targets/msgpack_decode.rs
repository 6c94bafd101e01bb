//! The msgpack decoder on arbitrary bytes, against types chosen by the
//! input: it must never panic, and whatever it accepts must encode again and
//! decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider::tfplugin::{Type, msgpack};

fn types() -> Vec<Type> {
    vec![
        Type::String,
        Type::Number,
        Type::Dynamic,
        Type::list(Type::map(Type::Number)),
        Type::set(Type::String),
        Type::Tuple(vec![Type::Bool, Type::Dynamic]),
        Type::object([
            ("name", Type::String),
            ("size", Type::Number),
            ("on", Type::Bool),
            ("env", Type::map(Type::String)),
            (
                "stage",
                Type::list(Type::object([("image", Type::String), ("args", Type::list(Type::String))])),
            ),
            ("any", Type::Dynamic),
        ]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let all = types();
    let ty = &all[selector as usize % all.len()];
    if let Ok(value) = msgpack::decode(bytes, ty) {
        let encoded = msgpack::encode(&value, ty).expect("a decoded value encodes");
        let again = msgpack::decode(&encoded, ty).expect("an encoded value decodes");
        assert!(again.equals(&value), "round trip changed the value");
    }
});
