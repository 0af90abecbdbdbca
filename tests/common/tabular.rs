//! Tabular fixtures as people have them, from a seeded generator: each is a training file and a
//! held-out test file drawn from one distribution. `scripts/sklearn-reference.py` reads the same
//! files (written by `cargo test --release --test cli_tabular -- --ignored write_fixtures` with
//! WGTRAIN_FIXTURES=DIR) to give the scikit-learn figures the tests compare with.

use wgtrain::testing::Rng;

/// A training file and a test file: (name, text) each.
pub struct Fixture {
    pub train: (&'static str, String),
    pub test: (&'static str, String),
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u = rng.next_f64().max(1e-12);
    let v = rng.next_f64();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `n` rows from `row` (given the rng), the first `n_train` to train, the rest to test.
fn split(
    header: &str,
    n_train: usize,
    n_test: usize,
    seed: u64,
    mut row: impl FnMut(&mut Rng) -> String,
    names: (&'static str, &'static str),
) -> Fixture {
    let mut rng = Rng::new(seed);
    let mut train = format!("{header}\n");
    let mut test = train.clone();
    for i in 0..n_train + n_test {
        let line = row(&mut rng);
        if i < n_train { &mut train } else { &mut test }.push_str(&line);
    }
    Fixture {
        train: (names.0, train),
        test: (names.1, test),
    }
}

/// Breast-cancer-like: ten named features from 0.05 to 2,500 in scale, a string label
/// (benign, malignant) last, ','-separated with a header.
pub fn cancer() -> Fixture {
    const SCALES: [f64; 10] = [0.05, 0.1, 0.2, 1.0, 14.0, 20.0, 90.0, 650.0, 1200.0, 2500.0];
    const WEIGHTS: [f64; 10] = [0.8, -0.3, 0.5, 0.9, 0.7, 0.2, 1.0, 0.6, 0.9, 0.4];
    let header = "smoothness,symmetry,concavity,fractal,radius,texture,perimeter,area,worst area,worst perimeter,diagnosis";
    split(
        header,
        400,
        200,
        11,
        |rng| {
            let malignant = rng.next_f64() < 0.37;
            let t = if malignant { 1.0 } else { -1.0 } + 0.8 * normal(rng);
            let mut line = String::new();
            for (s, w) in SCALES.iter().zip(WEIGHTS) {
                let v = s * (1.0 + 0.25 * (w * t + 0.9 * normal(rng))).max(0.01);
                line += &format!("{v:.5},");
            }
            line += if malignant { "malignant\n" } else { "benign\n" };
            line
        },
        ("cancer-train.csv", "cancer-test.csv"),
    )
}

/// Wine-like, as a German spreadsheet exports it: ';'-separated, decimal commas, a header and
/// a string label (rot, weiß, rosé) last; four features of different scales whose class
/// means overlap.
pub fn wine() -> Fixture {
    const MEANS: [[f64; 4]; 3] = [
        [13.0, 2.3, 100.0, 0.5],
        [12.3, 1.9, 88.0, 0.9],
        [12.9, 2.6, 97.0, 1.3],
    ];
    const SDS: [f64; 4] = [0.5, 0.35, 9.0, 0.3];
    const NAMES: [&str; 3] = ["rot", "weiß", "rosé"];
    split(
        "Alkohol;Säure;Magnesium;Farbe;Sorte",
        300,
        150,
        23,
        |rng| {
            let c = rng.below(3);
            let mut cells: Vec<String> = (0..4)
                .map(|j| format!("{:.3}", MEANS[c][j] + SDS[j] * normal(rng)).replace('.', ","))
                .collect();
            cells.push(NAMES[c].to_string());
            cells.join(";") + "\n"
        },
        ("wine-train.csv", "wine-test.csv"),
    )
}

/// A customer table with holes: an id column to ignore, NA and empty numeric cells, a
/// categorical column (with missing cells), a categorical plan, a yes/no label.
pub fn churn() -> Fixture {
    let mut id = 0;
    split(
        "id,age,income,region,plan,tenure,churned",
        400,
        200,
        37,
        move |rng| {
            id += 1;
            let age = 20.0 + 50.0 * rng.next_f64();
            let income = 20000.0 + 80000.0 * rng.next_f64();
            let region = ["north", "south", "east", "west"][rng.below(4)];
            let plan = ["basic", "plus", "premium"][rng.below(3)];
            let tenure = (rng.next_f64() * 60.0).floor();
            let z = -0.06 * (age - 45.0)
                + 0.00003 * (income - 60000.0)
                + match region {
                    "south" => 1.5,
                    "east" => -1.2,
                    _ => 0.0,
                }
                + match plan {
                    "premium" => -1.0,
                    "basic" => 0.8,
                    _ => 0.0,
                }
                - 0.03 * (tenure - 30.0)
                + 0.5 * normal(rng);
            let age = if rng.next_f64() < 0.1 {
                "NA".to_string()
            } else {
                format!("{age:.0}")
            };
            let income = if rng.next_f64() < 0.08 {
                String::new()
            } else {
                format!("{income:.2}")
            };
            let region = if rng.next_f64() < 0.05 { "" } else { region };
            format!(
                "C{id:05},{age},{income},{region},{plan},{tenure},{}\n",
                if z > 0.0 { "yes" } else { "no" }
            )
        },
        ("churn-train.csv", "churn-test.csv"),
    )
}

/// Diabetes-like regression (`super::diabetes`): ten features in their own units and a target
/// of about 25..350 in the last column, `target`.
pub fn diabetes() -> Fixture {
    Fixture {
        train: ("diabetes-train.csv", super::diabetes::csv(400, 1)),
        test: ("diabetes-test.csv", super::diabetes::csv(100, 2)),
    }
}

/// Every fixture, for the script that gives the scikit-learn figures.
pub fn all() -> Vec<Fixture> {
    vec![cancer(), wine(), churn(), diabetes()]
}
