//! A user's image folder: `DIR/<class>/*.png|jpg` (classes = sorted sub-folder names), or a flat
//! `DIR/*.png|jpg` holding one class. Grayscale or RGB; decoded with the `image` crate.

use super::resize::resize_image;
use super::DataError;
use crate::images::{ImageSet, ImageShape};
use std::path::{Path, PathBuf};

/// How [`load_folder`] shapes the images it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderOptions {
    /// Side length every image is resized to (bilinear, PIL semantics).
    pub size: usize,
    /// Accept images of different sizes (each is resized); when false, mixed sizes are an error.
    pub allow_mixed_sizes: bool,
    /// Force the channel count (1 or 3); `None` = 1 when every image is grayscale, else 3.
    pub channels: Option<usize>,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            size: super::IMAGE_SIZE,
            allow_mixed_sizes: false,
            channels: None,
        }
    }
}

/// True for the file extensions the loader reads (`.png`, `.jpg`, `.jpeg`, any case).
pub fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// True for a readable regular file (links followed) with an image extension.
pub fn is_image_file(p: &Path) -> bool {
    p.is_file() && has_image_extension(p)
}

/// Sorted image files directly inside `dir`. An entry that looks like an image but cannot be
/// read is an error naming each such entry and why (a dangling link, a folder named `x.png`,
/// an entry the folder listing could not read), never silently skipped: a folder scored
/// without some of its images would give results about other images than the user's.
/// Entries with other extensions (`notes.txt`) are ignored.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut files = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for entry in rd {
        let p = match entry {
            Ok(e) => e.path(),
            Err(e) => {
                unreadable.push(format!("an entry the listing could not read ({e})"));
                continue;
            }
        };
        if !has_image_extension(&p) {
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => files.push(p),
            Ok(_) => unreadable.push(format!("{} (not a file)", p.display())),
            Err(e) if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_symlink()) => {
                unreadable.push(format!("{} (a link to nothing readable: {e})", p.display()))
            }
            Err(e) => unreadable.push(format!("{} ({e})", p.display())),
        }
    }
    if !unreadable.is_empty() {
        unreadable.sort();
        const SHOWN: usize = 5;
        let more = unreadable.len().saturating_sub(SHOWN);
        let mut list = unreadable[..unreadable.len().min(SHOWN)].join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        return Err(DataError::format(
            dir,
            format!(
                "{} image entr{} cannot be read: {list}; fix or remove {}",
                unreadable.len(),
                if unreadable.len() == 1 { "y" } else { "ies" },
                if unreadable.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    files.sort();
    Ok(files)
}

/// The files of a labelled image folder, as [`folder_entries`] lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderEntries {
    /// Each image file with its class label, in the order [`load_folder`] loads them (class
    /// folders sorted, files sorted within each).
    pub files: Vec<(PathBuf, u16)>,
    /// Class names: the class folders' names, or the folder's own name for a folder of images
    /// without class folders.
    pub class_names: Vec<String>,
}

/// The image files of a labelled folder (see the module doc) and its class names.
pub fn folder_entries(dir: &Path) -> Result<FolderEntries, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            what: "image folder".into(),
            path: dir.to_path_buf(),
            hint: "expected DIR/<class>/*.png|jpg or DIR/*.png|jpg".into(),
        });
    }
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut classes: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    let mut entries: Vec<(PathBuf, u16)> = Vec::new();
    let mut class_names = Vec::new();
    if classes.is_empty() {
        entries.extend(image_files(dir)?.into_iter().map(|p| (p, 0)));
        class_names.push(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "images".into()),
        );
    } else {
        for (k, c) in classes.iter().enumerate() {
            entries.extend(image_files(c)?.into_iter().map(|p| (p, k as u16)));
            class_names.push(c.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    if entries.is_empty() {
        return Err(DataError::format(
            dir,
            "no .png/.jpg images found (expected DIR/<class>/*.png|jpg or DIR/*.png|jpg)",
        ));
    }
    Ok(FolderEntries {
        files: entries,
        class_names,
    })
}

/// Loads a labelled image folder (see the module doc) as `C x size x size` images, in the
/// order of [`folder_entries`].
pub fn load_folder(dir: &Path, opts: &FolderOptions) -> Result<ImageSet, DataError> {
    let entries = folder_entries(dir)?;
    let paths: Vec<&Path> = entries.files.iter().map(|(p, _)| p.as_path()).collect();
    let mut set = load_image_files(&paths, opts)?;
    set.labels = entries.files.iter().map(|(_, l)| *l).collect();
    set.class_names = entries.class_names;
    Ok(set)
}

/// What a file's header says: native size and whether it is grayscale. Reading it decodes no
/// pixels, so the whole folder can be surveyed before any image is decoded
/// ([`read_image_headers`]), and handed to [`load_image_files_with_headers`] so no header is
/// read twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Native height in pixels.
    pub height: usize,
    /// Native width in pixels.
    pub width: usize,
    /// True for grayscale (with or without alpha) images.
    pub gray: bool,
}

impl ImageHeader {
    /// True for colour (RGB or RGBA) images.
    pub fn is_colour(&self) -> bool {
        !self.gray
    }
}

/// The decoder's memory limit per image in MiB: `SSAD_MAX_DECODE_MB` when set to a positive
/// number, else 512 (the `image` crate's default). It bounds what one hostile or huge file
/// can make the decoder allocate.
pub fn max_decode_mib() -> u64 {
    std::env::var("SSAD_MAX_DECODE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(512)
}

/// An image reader for `bytes` with the decoder limits of [`max_decode_mib`].
fn reader_for<'a>(
    p: &Path,
    bytes: &'a [u8],
) -> Result<image::ImageReader<std::io::Cursor<&'a [u8]>>, DataError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(p, e))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_decode_mib().saturating_mul(1 << 20));
    reader.limits(limits);
    Ok(reader)
}

/// The error for a file the `image` crate cannot read. A memory-limit error says what the
/// limit is and how to raise it.
fn unreadable(p: &Path, e: image::ImageError) -> DataError {
    if let image::ImageError::Limits(_) = e {
        return DataError::format(
            p,
            format!(
                "decoding this image needs more memory than the decoder's limit of {} MiB per \
                 image ({e}); set SSAD_MAX_DECODE_MB to a larger number of MiB to allow it, or \
                 downscale the file",
                max_decode_mib()
            ),
        );
    }
    DataError::format(
        p,
        format!("unreadable image ({e}); expected a PNG or JPEG file"),
    )
}

/// Refuses a JPEG whose last scan has no end-of-image marker after it: a file cut short
/// (an interrupted copy or download), which the decoder would otherwise fill with grey and
/// return as if whole. Inside a scan every `0xFF` byte is stuffed (`FF 00`), so the raw
/// markers `FF DA` (start of scan) and `FF D9` (end of image) can be searched for directly.
fn check_jpeg_complete(p: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8]);
    if !is_jpeg {
        return Ok(());
    }
    let find_last = |m: [u8; 2]| bytes.windows(2).rposition(|w| w == m);
    let last_scan = find_last([0xFF, 0xDA]).unwrap_or(0);
    let complete = bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9]);
    if complete {
        Ok(())
    } else {
        Err(DataError::format(
            p,
            "truncated JPEG (its last scan has no end-of-image marker: the file was cut \
             short); re-copy or remove it",
        ))
    }
}

/// How many times each file's header was read (tests only: proves a header is read once).
#[cfg(test)]
pub(crate) static HEADER_READS: std::sync::Mutex<std::collections::BTreeMap<PathBuf, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Reads the header of one image file (size and colour type), no pixels.
fn read_header(p: &Path) -> Result<ImageHeader, DataError> {
    use image::ImageDecoder;
    #[cfg(test)]
    {
        *HEADER_READS
            .lock()
            .unwrap()
            .entry(p.to_path_buf())
            .or_default() += 1;
    }
    let reader = image::ImageReader::open(p)
        .map_err(|e| DataError::io(p, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(p, e))?;
    let decoder = reader.into_decoder().map_err(|e| unreadable(p, e))?;
    // The header alone cannot pass the memory limit; check the decoded size against it here,
    // so a too-large image is refused before anything is decoded.
    let bytes = decoder.total_bytes();
    if bytes > max_decode_mib().saturating_mul(1 << 20) {
        return Err(unreadable(
            p,
            image::ImageError::Limits(image::error::LimitError::from_kind(
                image::error::LimitErrorKind::InsufficientMemory,
            )),
        ));
    }
    let (w, h) = decoder.dimensions();
    Ok(ImageHeader {
        height: h as usize,
        width: w as usize,
        gray: !decoder.color_type().has_color(),
    })
}

/// Reads the headers of `paths` in parallel.
pub(crate) fn read_headers(paths: &[&Path]) -> Result<Vec<ImageHeader>, DataError> {
    use rayon::prelude::*;
    paths.par_iter().map(|p| read_header(p)).collect()
}

/// The header of each image file (size and colour type; no pixel is decoded), read in
/// parallel, one result per file, so a caller can name every unreadable file at once. The
/// headers go on to [`load_image_files_with_headers`], which then reads none again.
pub fn read_image_headers(paths: &[&Path]) -> Vec<Result<ImageHeader, DataError>> {
    use rayon::prelude::*;
    paths.par_iter().map(|p| read_header(p)).collect()
}

/// The native `(height, width)` of each image file, from the file headers only (no pixel is
/// decoded), read in parallel: what a caller needs to bring results at `size x size` back to
/// each image's own resolution (e.g. anomaly maps onto MVTec masks).
pub fn image_dimensions(paths: &[&Path]) -> Result<Vec<(usize, usize)>, DataError> {
    Ok(read_headers(paths)?
        .into_iter()
        .map(|h| (h.height, h.width))
        .collect())
}

/// The channel count [`load_image_files`] picks when none is forced: 1 when every header is
/// grayscale, else 3.
pub(crate) fn auto_channels(headers: &[ImageHeader]) -> usize {
    if headers.iter().all(|h| h.gray) {
        1
    } else {
        3
    }
}

/// Decodes one image file and brings it to `channels x size x size` (PIL-exact bilinear
/// [`resize_image`]): grayscale+alpha and RGBA lose their alpha, 16-bit samples are scaled to
/// 8 bits (65535 -> 255), and only the small result outlives the call.
fn decode_resized(p: &Path, channels: usize, size: usize) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
    check_jpeg_complete(p, &bytes)?;
    let im = reader_for(p, &bytes)?
        .decode()
        .map_err(|e| unreadable(p, e))?;
    let (w, h) = (im.width() as usize, im.height() as usize);
    // `into_*` converts in place when the file already has that layout (no copy).
    let planar: Vec<u8> = if channels == 1 {
        im.into_luma8().into_raw()
    } else {
        let rgb = im.into_rgb8().into_raw();
        let mut planar = vec![0u8; rgb.len()];
        let plane = w * h;
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            planar[i] = px[0];
            planar[plane + i] = px[1];
            planar[2 * plane + i] = px[2];
        }
        planar
    };
    Ok(resize_image(
        &planar,
        ImageShape::new(channels, h, w),
        size,
        size,
    ))
}

/// Loads the given image files (one unlabelled class) as `C x size x size` images.
///
/// Grayscale, grayscale+alpha, RGB and RGBA PNGs (8 or 16 bits) and JPEGs are read; alpha is
/// dropped and 16-bit samples are scaled to 8 bits. A first parallel pass reads only the file
/// headers (sizes for the mixed-size check, colour types for the channel choice); the second
/// decodes, converts and resizes each image inside the parallel map, so only the
/// `size x size` results are held, never a folder of full-resolution photos. No paths give
/// an empty set.
pub fn load_image_files(paths: &[&Path], opts: &FolderOptions) -> Result<ImageSet, DataError> {
    check_load_options(paths, opts)?;
    let headers = read_headers(paths)?;
    load_image_files_with_headers(paths, &headers, opts)
}

/// Refuses a channel count other than 1 or 3 and an image size out of range.
fn check_load_options(paths: &[&Path], opts: &FolderOptions) -> Result<(), DataError> {
    if let Some(c) = opts.channels.filter(|c| *c != 1 && *c != 3) {
        return Err(DataError::format(
            Path::new("."),
            format!("channels = {c}: expected 1 or 3"),
        ));
    }
    super::check_image_size(opts.size)
        .map_err(|m| DataError::format(paths.first().copied().unwrap_or(Path::new(".")), m))
}

/// [`load_image_files`] with the files' headers already read ([`read_image_headers`], one per
/// path, in the same order): the same checks and result, without reading any header again.
pub fn load_image_files_with_headers(
    paths: &[&Path],
    headers: &[ImageHeader],
    opts: &FolderOptions,
) -> Result<ImageSet, DataError> {
    use rayon::prelude::*;
    check_load_options(paths, opts)?;
    if headers.len() != paths.len() {
        return Err(DataError::format(
            paths.first().copied().unwrap_or(Path::new(".")),
            format!(
                "{} headers for {} image files: need one header per file",
                headers.len(),
                paths.len()
            ),
        ));
    }
    if let (false, Some(first)) = (opts.allow_mixed_sizes, headers.first()) {
        let (w0, h0) = (first.width, first.height);
        if let Some((i, h)) = headers
            .iter()
            .enumerate()
            .find(|(_, h)| (h.width, h.height) != (w0, h0))
        {
            return Err(DataError::format(
                paths[i],
                format!(
                    "image is {}x{} but {} is {w0}x{h0}: all images must have one size (or allow mixed sizes)",
                    h.width,
                    h.height,
                    paths[0].display()
                ),
            ));
        }
    }
    let channels = opts.channels.unwrap_or_else(|| auto_channels(headers));
    let shape = ImageShape::new(channels, opts.size, opts.size);
    let mut pixels = vec![0u8; paths.len() * shape.numel()];
    pixels
        .par_chunks_mut(shape.numel())
        .zip(paths.par_iter())
        .try_for_each(|(dst, p)| {
            dst.copy_from_slice(&decode_resized(p, channels, opts.size)?);
            Ok::<(), DataError>(())
        })?;
    Ok(ImageSet {
        shape,
        pixels,
        labels: vec![0; paths.len()],
        class_names: vec!["images".into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(path: &Path, w: u32, h: u32, v: u8) {
        image::GrayImage::from_pixel(w, h, image::Luma([v]))
            .save(path)
            .unwrap();
    }

    /// Headers read by [`read_image_headers`] and handed on are not read again: every file's
    /// header is read once per load, and the result equals [`load_image_files`]'.
    #[test]
    fn headers_handed_on_are_read_once() {
        let d = tempfile::tempdir().unwrap();
        let (g, c) = (d.path().join("g.png"), d.path().join("c.png"));
        gray(&g, 4, 4, 10);
        image::RgbImage::from_pixel(6, 6, image::Rgb([1, 2, 3]))
            .save(&c)
            .unwrap();
        let paths = [g.as_path(), c.as_path()];
        let reads = |p: &Path| HEADER_READS.lock().unwrap().get(p).copied().unwrap_or(0);
        let headers: Vec<ImageHeader> = read_image_headers(&paths)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let colour: Vec<bool> = headers.iter().map(ImageHeader::is_colour).collect();
        assert_eq!(colour, [false, true]);
        assert_eq!((headers[1].height, headers[1].width), (6, 6));
        let opts = FolderOptions {
            size: 8,
            allow_mixed_sizes: true,
            channels: None,
        };
        let set = load_image_files_with_headers(&paths, &headers, &opts).unwrap();
        assert_eq!(set.shape, ImageShape::new(3, 8, 8));
        assert_eq!((reads(&g), reads(&c)), (1, 1));
        assert_eq!(load_image_files(&paths, &opts).unwrap(), set);
        assert_eq!((reads(&g), reads(&c)), (2, 2));
        let e = load_image_files_with_headers(&paths, &headers[..1], &opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 headers for 2 image files"), "{e}");
        // Mixed sizes are still refused when not allowed.
        let strict = FolderOptions {
            allow_mixed_sizes: false,
            ..opts
        };
        let e = load_image_files_with_headers(&paths, &headers, &strict)
            .unwrap_err()
            .to_string();
        assert!(e.contains("all images must have one size"), "{e}");
    }

    #[test]
    fn labelled_folder_grayscale_and_rgb() {
        let d = tempfile::tempdir().unwrap();
        for (c, v) in [("cats", 10u8), ("dogs", 200u8)] {
            std::fs::create_dir_all(d.path().join(c)).unwrap();
            for i in 0..2 {
                gray(&d.path().join(c).join(format!("{i}.png")), 32, 32, v);
            }
        }
        std::fs::write(d.path().join("dogs/notes.txt"), "ignored").unwrap();
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.class_names, vec!["cats", "dogs"]);
        assert_eq!(set.labels, vec![0, 0, 1, 1]);
        assert_eq!(set.shape, ImageShape::new(1, 32, 32));
        assert!(set.image(3).iter().all(|&p| p == 200));

        // An RGB image makes the whole set RGB; planes come out channel-first.
        image::RgbImage::from_pixel(32, 32, image::Rgb([1, 2, 3]))
            .save(d.path().join("cats/rgb.png"))
            .unwrap();
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.shape.channels, 3);
        let rgb = set.image(2); // cats/rgb.png sorts after cats/1.png
        assert_eq!((rgb[0], rgb[1024], rgb[2048]), (1, 2, 3));
        assert_eq!(set.image(0)[2048], 10);
    }

    #[test]
    fn flat_folder_is_resized_to_32() {
        let d = tempfile::tempdir().unwrap();
        gray(&d.path().join("a.png"), 28, 28, 50);
        let set = load_folder(d.path(), &FolderOptions::default()).unwrap();
        assert_eq!(set.shape, ImageShape::new(1, 32, 32));
        assert!(set.image(0).iter().all(|&p| p == 50));
    }

    #[test]
    fn bad_folders_are_named() {
        let d = tempfile::tempdir().unwrap();
        let e = load_folder(&d.path().join("missing"), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image folder not found") && e.contains("missing"),
            "{e}"
        );
        let e = load_folder(d.path(), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no .png/.jpg images found"), "{e}");
        gray(&d.path().join("a.png"), 28, 28, 50);
        gray(&d.path().join("b.png"), 30, 28, 50);
        let e = load_folder(d.path(), &FolderOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b.png") && e.contains("30x28") && e.contains("28x28"),
            "{e}"
        );
        let opts = FolderOptions {
            allow_mixed_sizes: true,
            ..Default::default()
        };
        assert_eq!(load_folder(d.path(), &opts).unwrap().len(), 2);
        std::fs::write(d.path().join("c.png"), b"not a png").unwrap();
        let e = load_folder(d.path(), &opts).unwrap_err().to_string();
        assert!(e.contains("c.png") && e.contains("unreadable image"), "{e}");
    }
    /// Loads the single image file `p` with default options at `size`.
    fn load_one(p: &Path, size: usize) -> ImageSet {
        let opts = FolderOptions {
            size,
            ..Default::default()
        };
        load_image_files(&[p], &opts).unwrap()
    }

    #[test]
    fn gray_alpha_and_rgba_lose_their_alpha() {
        let d = tempfile::tempdir().unwrap();
        let la = d.path().join("la.png");
        image::GrayAlphaImage::from_pixel(8, 8, image::LumaA([77, 0]))
            .save(&la)
            .unwrap();
        let set = load_one(&la, 8);
        assert_eq!(set.shape, ImageShape::new(1, 8, 8));
        assert!(set.pixels.iter().all(|&v| v == 77));

        let rgba = d.path().join("rgba.png");
        image::RgbaImage::from_pixel(8, 8, image::Rgba([10, 20, 30, 0]))
            .save(&rgba)
            .unwrap();
        let set = load_one(&rgba, 8);
        assert_eq!(set.shape, ImageShape::new(3, 8, 8));
        let im = set.image(0);
        assert!(im[..64].iter().all(|&v| v == 10));
        assert!(im[64..128].iter().all(|&v| v == 20));
        assert!(im[128..].iter().all(|&v| v == 30));

        // Gray+alpha counts as grayscale in the channel choice: with an RGB image, 3 channels.
        let both = load_image_files(&[&la, &rgba], &FolderOptions::default()).unwrap();
        assert_eq!(both.shape.channels, 3);
        assert!(both.image(0).iter().all(|&v| v == 77));
    }

    #[test]
    fn sixteen_bit_pngs_scale_to_eight_bits() {
        let d = tempfile::tempdir().unwrap();
        // Square and loaded at its own size, so no resampling mixes the values.
        let g16 = d.path().join("g16.png");
        let mut im =
            image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(4, 4, image::Luma([0x8080]));
        im.put_pixel(0, 0, image::Luma([65535]));
        im.put_pixel(1, 0, image::Luma([0]));
        image::DynamicImage::ImageLuma16(im).save(&g16).unwrap();
        assert_eq!(image::open(&g16).unwrap().color(), image::ColorType::L16);
        let set = load_one(&g16, 4);
        assert_eq!(set.shape, ImageShape::new(1, 4, 4));
        let px = set.image(0);
        assert_eq!((px[0], px[1]), (255, 0));
        assert!(px[2..].iter().all(|&v| v == 128), "{px:?}");

        let c16 = d.path().join("c16.png");
        let im = image::ImageBuffer::<image::Rgb<u16>, _>::from_pixel(
            5,
            5,
            image::Rgb([65535, 0x8080, 0]),
        );
        image::DynamicImage::ImageRgb16(im).save(&c16).unwrap();
        assert_eq!(image::open(&c16).unwrap().color(), image::ColorType::Rgb16);
        let set = load_one(&c16, 5);
        assert_eq!(set.shape, ImageShape::new(3, 5, 5));
        let px = set.image(0);
        assert!(px[..25].iter().all(|&v| v == 255));
        assert!(px[25..50].iter().all(|&v| v == 128));
        assert!(px[50..].iter().all(|&v| v == 0));
    }

    #[test]
    fn jpegs_gray_and_colour() {
        let d = tempfile::tempdir().unwrap();
        let gj = d.path().join("g.jpg");
        image::GrayImage::from_pixel(16, 16, image::Luma([100]))
            .save(&gj)
            .unwrap();
        let cj = d.path().join("c.jpeg");
        image::RgbImage::from_pixel(16, 16, image::Rgb([200, 100, 50]))
            .save(&cj)
            .unwrap();
        let set = load_one(&gj, 16);
        assert_eq!(set.shape.channels, 1);
        // JPEG is lossy; a flat image survives within a grey level or two.
        assert!(
            set.pixels.iter().all(|&v| v.abs_diff(100) <= 2),
            "{:?}",
            &set.pixels[..8]
        );
        let set = load_image_files(
            &[&gj, &cj],
            &FolderOptions {
                size: 16,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(set.shape.channels, 3);
        let c = set.image(1);
        for (k, want) in [200u8, 100, 50].into_iter().enumerate() {
            assert!(
                c[k * 256..(k + 1) * 256]
                    .iter()
                    .all(|&v| v.abs_diff(want) <= 3),
                "channel {k}: {:?}",
                &c[k * 256..k * 256 + 8]
            );
        }
        // The grayscale JPEG is replicated into three equal planes.
        let g = set.image(0);
        assert_eq!(g[..256], g[256..512]);
        assert_eq!(g[..256], g[512..]);
    }

    #[test]
    fn odd_sizes_are_resized_with_the_pil_resampler() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("odd.png");
        let (w, h) = (37usize, 23usize);
        let mut im = image::RgbImage::new(w as u32, h as u32);
        for (x, y, px) in im.enumerate_pixels_mut() {
            *px = image::Rgb([
                (x * 7 % 256) as u8,
                (y * 11 % 256) as u8,
                ((x * y) % 256) as u8,
            ]);
        }
        im.save(&p).unwrap();
        assert_eq!(image_dimensions(&[p.as_path()]).unwrap(), vec![(23, 37)]);
        for size in [16, 32, 64] {
            let set = load_one(&p, size);
            assert_eq!(set.shape, ImageShape::new(3, size, size));
            // The same bytes as resizing the planar native image directly.
            let raw = im.as_raw();
            let planar: Vec<u8> = (0..3)
                .flat_map(|c| raw.iter().skip(c).step_by(3).copied())
                .collect();
            let want = resize_image(&planar, ImageShape::new(3, h, w), size, size);
            assert_eq!(set.image(0), &want[..], "size {size}");
        }
        // A forced single channel gives the luma plane.
        let opts = FolderOptions {
            size: 8,
            allow_mixed_sizes: false,
            channels: Some(1),
        };
        let set = load_image_files(&[p.as_path()], &opts).unwrap();
        assert_eq!(set.shape, ImageShape::new(1, 8, 8));
    }

    #[test]
    fn headers_only_survey_names_unreadable_files() {
        let d = tempfile::tempdir().unwrap();
        gray(&d.path().join("a.png"), 10, 20, 1);
        std::fs::write(d.path().join("b.png"), b"\x89PNG broken").unwrap();
        let a = d.path().join("a.png");
        let b = d.path().join("b.png");
        assert_eq!(image_dimensions(&[a.as_path()]).unwrap(), vec![(20, 10)]);
        let e = image_dimensions(&[a.as_path(), b.as_path()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.png") && e.contains("unreadable image"), "{e}");
        let none: [&Path; 0] = [];
        assert!(image_dimensions(&none).unwrap().is_empty());
        assert!(load_image_files(&none, &FolderOptions::default())
            .unwrap()
            .is_empty());
        let e = load_image_files(
            &[a.as_path()],
            &FolderOptions {
                size: 0,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("size = 0"), "{e}");
        // A huge side is refused before anything is decoded or allocated.
        let e = load_image_files(
            &[Path::new("any.png")],
            &FolderOptions {
                size: 1 << 16,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("size = 65536") && e.contains("1..=4096"), "{e}");
    }
}
