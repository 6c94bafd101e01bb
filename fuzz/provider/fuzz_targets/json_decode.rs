//! The JSON value decoder (state files in UpgradeResourceState, the JSON
//! form of DynamicValue) on arbitrary bytes, against a type chosen by the
//! first byte. It must never panic, and whatever it accepts must encode
//! to JSON and decode to the same value, and go through msgpack (the
//! protocol's other encoding) unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provider::tfplugin::diagnostics::AttributePath;
use provider::tfplugin::{Type, json, msgpack};

fn types() -> Vec<Type> {
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
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
    let Ok(value) = json::decode_bytes(bytes, ty) else { return };
    let encoded = json::encode(&value).expect("a decoded value has a JSON form");
    let again = json::decode(&encoded, ty, &AttributePath::root()).expect("its JSON decodes");
    assert!(again.equals(&value), "JSON round trip changed the value: {value:?} -> {again:?}");
    let packed = msgpack::encode(&value, ty).expect("a decoded value encodes as msgpack");
    let unpacked = msgpack::decode(&packed, ty).expect("its msgpack decodes");
    assert!(unpacked.equals(&value), "msgpack round trip changed the value: {value:?} -> {unpacked:?}");
});
