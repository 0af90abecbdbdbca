//! IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST: four files per dataset,
//! gzipped or not; images kept as bytes and scaled by 1/255 when read.
//!
//! Past 600 lines with its tests (the reader is ~400): one format, its files found, parsed,
//! checked (shapes, the class count) and turned into a split.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::{Dataset, Inputs, Split, Targets};
use crate::error::{Error, Result};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// The four standard file names, without `.gz`.
const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The header of one IDX file, read from `bytes` (the whole file, or at least its header):
/// checks the magic and that the dimensions' product fits a usize. Returns the dimensions, the
/// header length and the number of data bytes the dimensions need.
fn header(path: &Path, bytes: &[u8], magic: u32) -> Result<(Vec<usize>, usize, usize)> {
    let bad = |msg: String| Error::data(path, msg);
    if bytes.len() < 4 {
        return Err(bad(format!(
            "{} bytes: too short for an IDX header",
            bytes.len()
        )));
    }
    let got = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if got != magic {
        return Err(bad(format!(
            "IDX magic is 0x{got:08x}, expected 0x{magic:08x} ({}): not an IDX {} file",
            if magic == IMAGES_MAGIC {
                "u8 images, 3 dimensions"
            } else {
                "u8 labels, 1 dimension"
            },
            if magic == IMAGES_MAGIC {
                "image"
            } else {
                "label"
            }
        )));
    }
    let ndim = bytes[3] as usize;
    let len = 4 + 4 * ndim;
    if bytes.len() < len {
        return Err(bad(format!(
            "truncated: the header of {ndim} dimensions needs {len} bytes, the file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let want = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    Ok((dims, len, want))
}

/// Parses one IDX file: checks the magic and that the data is exactly as long as the dimensions
/// say. Returns the dimensions and the data bytes.
pub fn parse<'a>(path: &Path, bytes: &'a [u8], magic: u32) -> Result<(Vec<usize>, &'a [u8])> {
    let (dims, len, want) = header(path, bytes, magic)?;
    let have = bytes.len() - len;
    if have != want {
        return Err(Error::data(
            path,
            format!(
                "{have} data bytes, but dimensions {dims:?} need {want}{}",
                if have < want {
                    " (truncated file?)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok((dims, &bytes[len..]))
}

/// Parses one IDX file as stored, gunzipped first when `path` ends in `.gz`: the dimensions and
/// the data bytes.
fn decode(path: &Path, stored: &[u8], magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    if path.extension().is_some_and(|e| e == "gz") {
        return inflate(path, stored, magic);
    }
    let (dims, data) = parse(path, stored, magic)?;
    Ok((dims, data.to_vec()))
}

/// As `decode` for a gzipped file, inflated no further than its header says it reaches, so a
/// small file cannot inflate into a huge buffer before it is found wrong.
fn inflate(path: &Path, stored: &[u8], magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    let mut gz = MultiGzDecoder::new(stored);
    let mut bytes = Vec::new();
    let mut more = |bytes: &mut Vec<u8>, n: usize| {
        (&mut gz)
            .take(n as u64)
            .read_to_end(bytes)
            .map_err(|e| Error::data(path, format!("bad gzip data: {e}")))
    };
    more(&mut bytes, 4)?;
    if let Some(&ndim) = bytes.get(3) {
        more(&mut bytes, 4 * ndim as usize)?;
    }
    let (dims, len, want) = header(path, &bytes, magic)?;
    // What the header claims must fit before any of it is inflated: a small file claiming
    // millions of images is refused here, with the figure, not after gigabytes.
    crate::memory::check(
        &format!("{} (dimensions {dims:?})", path.display()),
        want as u64,
    )?;
    more(&mut bytes, want.saturating_add(1))?;
    if bytes.len() - len > want {
        return Err(Error::data(
            path,
            format!("more data than the {want} bytes dimensions {dims:?} need"),
        ));
    }
    parse(path, &bytes, magic)?;
    bytes.drain(..len);
    Ok((dims, bytes))
}

/// One IDX image file (gzipped or not), for predictions: pixels scaled by 1/255.
/// Returns the images (n, rows·cols), n and rows·cols.
pub fn load_images(path: &Path) -> Result<(Inputs, usize, usize)> {
    let stored = crate::memory::read_file(path)?;
    let (dims, pixels) = decode(path, &stored, IMAGES_MAGIC)?;
    // The magic's last byte is the dimension count, so an image file has exactly 3.
    if dims[0] == 0 {
        return Err(Error::data(path, "holds no images"));
    }
    let dim = dims[1] * dims[2];
    Ok((
        Inputs::U8 {
            data: pixels,
            scale: 1.0 / 255.0,
        },
        dims[0],
        dim,
    ))
}

/// `dir/name`, or `dir/name.gz`, whichever exists.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Images (n, rows·cols) and labels (n) of one split, from the decoded image and label files.
fn split_part(
    (images, (dims, pixels)): (&Path, (Vec<usize>, Vec<u8>)),
    (labels, (ldims, labs)): (&Path, (Vec<usize>, Vec<u8>)),
) -> Result<(Vec<u8>, usize, usize, Vec<u32>)> {
    // The magics fix the dimension counts (their last byte): images 3, labels 1.
    if ldims[0] != dims[0] {
        return Err(Error::data(
            labels,
            format!(
                "{} labels, but {} holds {} images",
                ldims[0],
                images.display(),
                dims[0]
            ),
        ));
    }
    if dims[0] == 0 {
        return Err(Error::data(images, "holds no images"));
    }
    Ok((
        pixels,
        dims[0],
        dims[1] * dims[2],
        labs.iter().map(|&l| l as u32).collect(),
    ))
}

/// The four standard files in `dir` (each gzipped or not): train and test splits, of
/// `classes` classes when given (`load_bytes`).
pub fn load_dir(dir: &Path, classes: Option<usize>) -> Result<Split> {
    let paths: Vec<Option<PathBuf>> = FILES.iter().map(|f| find(dir, f)).collect();
    let missing: Vec<&str> = FILES
        .iter()
        .zip(&paths)
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| *f)
        .collect();
    if !missing.is_empty() {
        let csv: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| super::is_csv(n))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(first) = csv.iter().min() {
            return Err(Error::data(
                dir,
                format!(
                    "a folder of CSV files ({} of them, {first} first), not of IDX files: give one CSV file as the data (its own path), and others as the validation or test set",
                    csv.len()
                ),
            ));
        }
        return Err(Error::data(
            dir,
            format!(
                "missing IDX files {} (each may be gzipped, .gz)",
                missing.join(", ")
            ),
        ));
    }
    let p: Vec<PathBuf> = paths.into_iter().flatten().collect();
    let stored = p
        .iter()
        .map(|path| crate::memory::read_file(path))
        .collect::<Result<Vec<_>>>()?;
    let file = |i: usize| (p[i].as_path(), stored[i].as_slice());
    load_bytes(
        &dir.display().to_string(),
        [file(0), file(1), file(2), file(3)],
        classes,
    )
}

/// The train and test splits of a dataset named `name`, from its four files as stored (each
/// gzipped when its name ends in `.gz`) in the order train images, train labels, test images,
/// test labels. The image files are inflated and parsed in parallel. The class count is
/// `classes` when given (every label below it), else the largest label + 1, checked by
/// `check_classes`.
pub fn load_bytes(name: &str, files: [(&Path, &[u8]); 4], classes: Option<usize>) -> Result<Split> {
    let decode = |i: usize, magic| {
        let (path, stored) = files[i];
        decode(path, stored, magic).map(|d| (path, d))
    };
    let (train_images, test_images) = std::thread::scope(|s| {
        let train = s.spawn(|| decode(0, IMAGES_MAGIC));
        let test = decode(2, IMAGES_MAGIC);
        let train = train
            .join()
            .unwrap_or_else(|_| Err(Error::data(files[0].0, "reading failed")));
        (train, test)
    });
    let (train_x, n_train, dim, train_y) = split_part(train_images?, decode(1, LABELS_MAGIC)?)?;
    let (test_x, n_test, test_dim, test_y) = split_part(test_images?, decode(3, LABELS_MAGIC)?)?;
    if test_dim != dim {
        return Err(Error::data(
            files[2].0,
            format!("test images have {test_dim} pixels, training images {dim}"),
        ));
    }
    let parts = [
        (files[1].0, train_y.as_slice()),
        (files[3].0, test_y.as_slice()),
    ];
    let n_classes = check_classes(&parts, classes)?;
    let make = |x: Vec<u8>, n, y: Vec<u32>, part: &str| {
        Dataset::with_inputs(
            format!("{name} ({part})"),
            Inputs::U8 {
                data: x,
                scale: 1.0 / 255.0,
            },
            n,
            dim,
            Targets::Classes {
                labels: y,
                n_classes,
            },
        )
    };
    Ok(Split::new(
        make(train_x, n_train, train_y, "train")?,
        Some(make(test_x, n_test, test_y, "test")?),
    ))
}

/// The class count of `parts` (label file, labels). Given (`classes`), every label must be
/// below it. Otherwise the largest label + 1 (at least 2), and the labels must look like
/// classes: they cover 0..K-1 without a gap (a label file with one corrupt byte, 255 among
/// 0-9, would otherwise build a 256-class network), and the top class is not a stray (`STRAY`
/// times its rows still fewer than the other classes' mean: one 10 among 60,000 labels 0-9).
/// An error names the file, the row and the label, and how to give the class count.
fn check_classes(parts: &[(&Path, &[u32]); 2], classes: Option<usize>) -> Result<usize> {
    let first = |pred: &dyn Fn(u32) -> bool| {
        parts.iter().find_map(|(path, labels)| {
            labels
                .iter()
                .position(|&l| pred(l))
                .map(|row| (*path, row, labels[row]))
        })
    };
    if let Some(k) = classes {
        if k < 2 {
            return Err(Error::invalid(
                "classes",
                format!("{k}: a classifier needs two classes or more"),
            ));
        }
        if let Some((path, row, label)) = first(&|l| l as usize >= k) {
            return Err(Error::data(
                path,
                format!(
                    "label {label} of row {row} (0-based) is not below {k}, the setting `classes`"
                ),
            ));
        }
        return Ok(k);
    }
    let n_classes = parts
        .iter()
        .flat_map(|(_, l)| l.iter())
        .max()
        .map_or(2, |&m| m as usize + 1)
        .max(2);
    let mut rows = vec![0usize; n_classes];
    for (_, labels) in parts {
        for &l in labels.iter() {
            rows[l as usize] += 1;
        }
    }
    if let Some(gap) = rows.iter().position(|&n| n == 0)
        && let Some((path, row, label)) = first(&|l| l as usize > gap)
    {
        return Err(Error::data(
            path,
            format!(
                "label {label} of row {row} (0-based) leaves class {gap} without a single row: a corrupt label? Class labels must be 0..K-1 with none missing (the setting `classes` K allows classes without rows)"
            ),
        ));
    }
    let top = n_classes - 1;
    let others = rows[..top].iter().sum::<usize>() as f64 / top as f64;
    if ((rows[top] * STRAY) as f64) < others
        && let Some((path, row, label)) = first(&|l| l as usize == top)
    {
        return Err(Error::data(
            path,
            format!(
                "label {label} of row {row} (0-based) makes a class {top} of {} rows beside classes 0-{} of {others:.0} rows on average: a corrupt label? Correct it, or give the class count (the setting `classes` {n_classes}) to train on it as a class",
                rows[top],
                top - 1
            ),
        ));
    }
    Ok(n_classes)
}

/// How many times its rows the other classes' mean must exceed for the top class to be
/// refused as a stray label (`check_classes`).
const STRAY: usize = 100;

/// The folders a named dataset is looked for in when the caller names none: `./data` and
/// `/usr/share/datasets` (Debian's dataset packages). The CLI puts `$WGTRAIN_DATA` first and
/// `~/.cache/wgtrain` before the last.
pub fn default_roots() -> Vec<PathBuf> {
    vec![PathBuf::from("data"), PathBuf::from("/usr/share/datasets")]
}

/// Where a named dataset is looked for: `ROOT/NAME` for each of `roots`, in order.
pub fn search_paths(name: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    roots.iter().map(|r| r.join(name)).collect()
}

/// `mnist`, `fashion-mnist` or `kmnist` from the first search path that holds its files; when
/// none does, an error saying exactly how to get them.
pub fn load_named(name: &str, roots: &[PathBuf], classes: Option<usize>) -> Result<Split> {
    let dirs = search_paths(name, roots);
    if let Some(dir) = dirs.iter().find(|d| find(d, FILES[0]).is_some()) {
        return load_dir(dir, classes);
    }
    let how = match name {
        "fashion-mnist" => {
            "on Debian/Ubuntu: `apt-get install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist); elsewhere download the four files from https://github.com/zalandoresearch/fashion-mnist (data/fashion) into one of these folders, or name the folder as the data source"
        }
        "mnist" => {
            "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (for example from https://ossci-datasets.s3.amazonaws.com/mnist/) into one of these folders, or name the folder as the data source"
        }
        _ => {
            "download the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) into one of these folders, or name the folder as the data source"
        }
    };
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::usage(format!(
        "{name} not found (looked in {}); {how}",
        looked.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        v[3] = dims.len() as u8;
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wgtrain-idx-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Writes a small dataset: n_train / n_test images of 2x3 pixels, labels i % 3.
    fn write_set(dir: &Path, n_train: u32, n_test: u32, gzip: bool) {
        for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
            let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 37 % 256) as u8).collect();
            let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
            let files = [
                (
                    format!("{prefix}-images-idx3-ubyte"),
                    idx(IMAGES_MAGIC, &[n, 2, 3], &pixels),
                ),
                (
                    format!("{prefix}-labels-idx1-ubyte"),
                    idx(LABELS_MAGIC, &[n], &labels),
                ),
            ];
            for (name, bytes) in files {
                if gzip {
                    std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
                } else {
                    std::fs::write(dir.join(name), bytes).unwrap();
                }
            }
        }
    }

    #[test]
    fn idx_dir_loads_plain_and_gzipped_files_scaled_to_unit_range() {
        for gzip in [false, true] {
            let dir = temp_dir(&format!("ok{gzip}"));
            write_set(&dir, 5, 4, gzip);
            let split = load_dir(&dir, None).unwrap();
            let (train, test) = (&split.train, split.test.as_ref().unwrap());
            assert_eq!(
                (train.n, train.dim, test.n, train.target_width()),
                (5, 6, 4, 3)
            );
            let x = train.x.to_f32();
            assert_eq!(x[1], 37.0 / 255.0);
            assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
            let mut y = [0.0; 3];
            train.target_row(4, &mut y);
            assert_eq!(y, [0.0, 1.0, 0.0]);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_corrupt_label_that_leaves_a_gap_in_the_classes_is_an_error_naming_its_row() {
        let dir = temp_dir("gap");
        write_set(&dir, 5, 4, false);
        // Row 3 of the test labels: 255 among 0..2 would make a 256-class network.
        let mut labels = idx(LABELS_MAGIC, &[4], &[0, 1, 2, 255]);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
        let e = load_dir(&dir, None).unwrap_err().to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte") && e.contains("label 255 of row 3"),
            "{e}"
        );
        assert!(e.contains("class 3 without a single row"), "{e}");
        // Classes 0..3 all present: loads.
        labels = idx(LABELS_MAGIC, &[4], &[0, 1, 2, 3]);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
        assert_eq!(load_dir(&dir, None).unwrap().train.target_width(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stray_top_label_is_refused_unless_the_class_count_is_given() {
        let dir = temp_dir("stray");
        // 600 training rows of classes 0..2 (200 each), and one test label 3 among them.
        write_set(&dir, 600, 4, false);
        let labels = idx(LABELS_MAGIC, &[4], &[0, 1, 3, 2]);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
        let e = load_dir(&dir, None).unwrap_err().to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte")
                && e.contains("label 3 of row 2")
                && e.contains("class 3 of 1 rows beside classes 0-2 of 201 rows")
                && e.contains("the setting `classes` 4"),
            "{e}"
        );
        // Given, it is a class; a label at or above the count given is an error naming it.
        assert_eq!(load_dir(&dir, Some(4)).unwrap().train.target_width(), 4);
        let e = load_dir(&dir, Some(3)).unwrap_err().to_string();
        assert!(
            e.contains("label 3 of row 2") && e.contains("not below 3, the setting `classes`"),
            "{e}"
        );
        // A count above the labels: classes without rows are allowed then.
        let split = load_dir(&dir, Some(6)).unwrap();
        assert_eq!(split.train.target_width(), 6);
        assert!(load_dir(&dir, Some(1)).is_err());
        // Three rows of the top class in 603 are not a stray at 100x: one in 201 is.
        let labels = idx(LABELS_MAGIC, &[4], &[3, 1, 3, 3]);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
        assert_eq!(load_dir(&dir, None).unwrap().train.target_width(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_errors_name_the_file_and_the_problem() {
        let p = Path::new("f");
        let good = idx(IMAGES_MAGIC, &[2, 2, 2], &[0; 8]);
        assert!(parse(p, &good, IMAGES_MAGIC).is_ok());
        let e = parse(p, &good, LABELS_MAGIC).unwrap_err().to_string();
        assert!(e.contains("magic"), "{e}");
        let e = parse(p, &good[..good.len() - 1], IMAGES_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = parse(p, &good[..6], IMAGES_MAGIC).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        assert!(parse(p, &[], IMAGES_MAGIC).is_err());

        let dir = temp_dir("bad");
        write_set(&dir, 5, 4, false);
        std::fs::write(
            dir.join("train-labels-idx1-ubyte"),
            idx(LABELS_MAGIC, &[4], &[0; 4]),
        )
        .unwrap();
        let e = load_dir(&dir, None).unwrap_err().to_string();
        assert!(e.contains("4 labels") && e.contains("5 images"), "{e}");
        std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
        let e = load_dir(&dir, None).unwrap_err().to_string();
        assert!(
            e.contains("missing") && e.contains("t10k-images-idx3-ubyte"),
            "{e}"
        );
        write_set(&dir, 5, 4, false);
        std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), b"not gzip at all").unwrap();
        let e = load_dir(&dir, None).unwrap_err().to_string();
        assert!(e.contains("gzip"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_header_claiming_more_than_the_file_holds_is_rejected_before_allocating() {
        let p = Path::new("f");
        let huge = idx(IMAGES_MAGIC, &[u32::MAX, 28, 28], &[0; 88]);
        let e = parse(p, &huge, IMAGES_MAGIC).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        // Gzipped, the claim (3 TB) is refused against memory before inflating.
        let e = decode(Path::new("f.gz"), &gz(&huge), IMAGES_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("may allocate only"), "{e}");
        let e = decode(
            Path::new("f"),
            &idx(LABELS_MAGIC, &[u32::MAX], &[]),
            LABELS_MAGIC,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn idx_gzipped_file_inflates_no_further_than_its_header_says() {
        // 64 MiB of zeros gzip to about 64 KiB; the header asks for 3 bytes.
        let bomb = gz(&idx(LABELS_MAGIC, &[3], &vec![0; 64 << 20]));
        let e = decode(Path::new("l.gz"), &bomb, LABELS_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more data than the 3 bytes"), "{e}");
        let good = gz(&idx(LABELS_MAGIC, &[3], &[7, 8, 9]));
        let (dims, data) = decode(Path::new("l.gz"), &good, LABELS_MAGIC).unwrap();
        assert_eq!((dims, data), (vec![3], vec![7, 8, 9]));
        let e = decode(Path::new("l.gz"), &good[..good.len() - 4], LABELS_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip"), "{e}");
        for cut in [0, 2, 5] {
            let short = gz(&idx(LABELS_MAGIC, &[3], &[7, 8, 9])[..cut]);
            assert!(decode(Path::new("l.gz"), &short, LABELS_MAGIC).is_err());
        }
    }

    #[test]
    fn idx_named_dataset_missing_says_how_to_get_it() {
        let e = load_named("no-such-set", &default_roots(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not found") && e.contains("name the folder"),
            "{e}"
        );
    }
}
