//! Writes dataset images as PNG folders, as `ssad data export` does, for the tests that run
//! the CLI on a user's folders.

/// Writes `n` images of `class` (after skipping `skip`) as `out/<class>/<index>.png` (8-bit
/// grayscale at the set's size).
pub fn export(set: &ssad_core::ImageSet, out: &std::path::Path, class: u16, n: usize, skip: usize) {
    let dir = out.join(class.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for i in set.indices_of_class(class).into_iter().skip(skip).take(n) {
        let (h, w) = (set.shape.height as u32, set.shape.width as u32);
        image::GrayImage::from_raw(w, h, set.image(i).to_vec())
            .unwrap()
            .save(dir.join(format!("{i:05}.png")))
            .unwrap();
    }
}
