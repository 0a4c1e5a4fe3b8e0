//! The deterministic operations against torchvision outputs recorded by
//! `scripts/fixtures/augment_torchvision.py` (torchvision 0.28 on float32 tensors).

use serde_json::Value;
use ssad_augment::functional::{self as f, PixelBox};
use ssad_core::ImageShape;
use std::collections::HashMap;

const TOL: f32 = 1e-5;

struct Fixture {
    inputs: HashMap<String, (ImageShape, Vec<f32>)>,
    cases: Vec<Value>,
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn shape_of(v: &Value) -> ImageShape {
    let s: Vec<usize> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    ImageShape::new(s[0], s[1], s[2])
}

fn load() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torchvision_functional.json"
    );
    let text = std::fs::read_to_string(path)
        .expect("fixture (run scripts/fixtures/augment_torchvision.py)");
    let json: Value = serde_json::from_str(&text).unwrap();
    let inputs = json["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (shape_of(&v["shape"]), floats(&v["data"]))))
        .collect();
    Fixture {
        inputs,
        cases: json["cases"].as_array().unwrap().clone(),
    }
}

fn assert_close(name: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let (i, err) = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (i, e)| if e > best.1 { (i, e) } else { best },
        );
    assert!(
        err <= TOL,
        "{name}: max |diff| {err} at {i} (got {}, torchvision {})",
        got[i],
        want[i]
    );
    err
}

/// Runs our implementation of one recorded case; returns (output, output shape, optional mask).
fn run_case(fx: &Fixture, case: &Value) -> (Vec<f32>, ImageShape, Option<Vec<f32>>) {
    let (shape, input) = fx.inputs[case["input"].as_str().unwrap()].clone();
    let p = &case["params"];
    let num = |k: &str| p[k].as_f64().unwrap();
    let int = |k: &str| p[k].as_i64().unwrap();
    let mut img = input.clone();
    match case["op"].as_str().unwrap() {
        "vflip" => f::vflip(&mut img, shape),
        "hflip" => f::hflip(&mut img, shape),
        "invert" => f::invert(&mut img),
        "rot90" => f::rot90(&mut img, shape, int("k") as i32),
        "rotate_expand" => {
            let r = f::rotate_nearest(&input, shape, num("angle"), true);
            let mask = r
                .inside
                .iter()
                .map(|&b| if b { 1.0 } else { 0.0 })
                .collect();
            return (r.data, r.shape, Some(mask));
        }
        "gaussian_blur" => {
            f::gaussian_blur(&mut img, shape, int("kernel") as usize, num("sigma") as f32)
        }
        "resized_crop" => f::resized_crop(
            &mut img,
            shape,
            PixelBox {
                top: int("top") as usize,
                left: int("left") as usize,
                height: int("height") as usize,
                width: int("width") as usize,
            },
        ),
        "resize" => {
            let (h, w) = (int("height") as usize, int("width") as usize);
            return (
                f::resize_bilinear(&input, shape, h, w),
                ImageShape::new(shape.channels, h, w),
                None,
            );
        }
        "brightness" => f::adjust_brightness(&mut img, num("factor") as f32),
        "contrast" => f::adjust_contrast(&mut img, shape, num("factor") as f32),
        "saturation" => f::adjust_saturation(&mut img, shape, num("factor") as f32),
        "hue" => f::adjust_hue(&mut img, shape, num("factor") as f32),
        "grayscale" => f::to_grayscale(&mut img, shape),
        "translate" => f::translate(&mut img, shape, int("dx") as isize, int("dy") as isize),
        other => panic!("unknown fixture op {other}"),
    }
    (img, shape, None)
}

#[test]
fn every_recorded_torchvision_case_matches() {
    let fx = load();
    assert!(
        fx.cases.len() >= 40,
        "fixture has only {} cases",
        fx.cases.len()
    );
    for case in &fx.cases {
        let name = case["name"].as_str().unwrap();
        let (got, shape, mask) = run_case(&fx, case);
        assert_eq!(shape, shape_of(&case["shape"]), "{name}: output shape");
        let err = assert_close(name, &got, &floats(&case["output"]));
        eprintln!("{name}: max |diff| {err:.2e}");
        if let Some(mask) = mask {
            assert_eq!(
                mask,
                floats(&case["mask"]),
                "{name}: mask of rotated pixels"
            );
        }
    }
}

#[test]
fn fixture_covers_each_kind_of_operation() {
    let fx = load();
    let ops: std::collections::HashSet<&str> =
        fx.cases.iter().map(|c| c["op"].as_str().unwrap()).collect();
    for op in [
        "vflip",
        "hflip",
        "invert",
        "rot90",
        "rotate_expand",
        "gaussian_blur",
        "resized_crop",
        "resize",
        "brightness",
        "contrast",
        "saturation",
        "hue",
        "grayscale",
        "translate",
    ] {
        assert!(ops.contains(op), "no fixture case for {op}");
    }
}
