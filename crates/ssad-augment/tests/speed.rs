//! Speed smoke check (ignored by default):
//! `cargo test -p ssad-augment --release --test speed -- --ignored --nocapture`
//! (`SSAD_SPEED_SPECS=noise,mask` to time only some specs).

use ssad_augment::bench::images_per_cpu_second;
use ssad_augment::{parse, parse_list, CATALOGUE};
use ssad_core::{Batch, ImageShape};

#[test]
#[ignore]
fn print_single_thread_cpu_speed() {
    let specs = match std::env::var("SSAD_SPEED_SPECS") {
        Ok(list) => parse_list(&list).unwrap(),
        Err(_) => CATALOGUE.iter().map(|e| parse(e.name).unwrap()).collect(),
    };
    for c in [1, 3] {
        let shape = ImageShape::new(c, 32, 32);
        let mut rng = ssad_core::sample_rng(1, 0, 0);
        let batch = Batch {
            shape,
            data: (0..1024 * shape.numel())
                .map(|_| rand::Rng::random::<f32>(&mut rng))
                .collect(),
        };
        for spec in &specs {
            let ips = images_per_cpu_second(spec, &batch, 0.3).unwrap();
            println!(
                "{:<18} C={c} {ips:>10.0} images per CPU-second",
                spec.to_string()
            );
        }
    }
}
