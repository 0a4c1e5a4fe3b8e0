//! Speed smoke check (ignored by default; `cargo test -p ssad-augment --release --test speed -- --ignored --nocapture`).

use ssad_augment::{bench::images_per_second, parse, CATALOGUE};
use ssad_core::{Batch, ImageShape};

#[test]
#[ignore]
fn print_single_thread_speed() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for c in [1, 3] {
        let shape = ImageShape::new(c, 32, 32);
        let mut rng = ssad_core::sample_rng(1, 0, 0);
        let batch = Batch { shape, data: (0..1024 * shape.numel()).map(|_| rand::Rng::random::<f32>(&mut rng)).collect() };
        for e in CATALOGUE {
            let ips = images_per_second(&parse(e.name).unwrap(), &batch, &pool, 0.2);
            println!("{:<14} C={c} {ips:>10.0} images/s", e.name);
        }
    }
}
