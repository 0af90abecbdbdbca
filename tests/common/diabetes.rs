//! A diabetes-like regression set, seeded: 10 features in their own units (age, sex, BMI, blood
//! pressure, six serum levels), a target of about 25..350 from a few of them with a kink and
//! noise (sd 40), like scikit-learn's diabetes set before its feature scaling.

use wgtrain::data::{Dataset, Targets};
use wgtrain::testing::Rng;

/// The feature names, then the target's, as a CSV header.
pub const HEADER: &str = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target";

fn gauss(r: &mut Rng) -> f64 {
    let (u, v) = (r.next_f64().max(1e-300), r.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `n` rows of (features, target) from `seed`.
pub fn rows(n: usize, seed: u64) -> Vec<([f32; 10], f32)> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let age = 20.0 + 60.0 * r.next_f64();
            let sex = 1.0 + r.below(2) as f64;
            let bmi = 26.0 + 4.4 * gauss(&mut r);
            let bp = 95.0 + 14.0 * gauss(&mut r);
            let s: Vec<f64> = (0..6).map(|_| gauss(&mut r)).collect();
            let row = [
                age,
                sex,
                bmi,
                bp,
                189.0 + 34.0 * s[0],
                115.0 + 30.0 * s[1],
                50.0 + 13.0 * s[2],
                4.0 + 1.3 * s[3],
                4.6 + 0.5 * s[4],
                91.0 + 11.0 * s[5],
            ];
            let t = 152.0 + 9.5 * (bmi - 26.0) + (bp - 95.0) + 55.0 * (row[8] - 4.6)
                - 1.2 * (row[6] - 50.0)
                + 0.2 * (age - 50.0)
                + 3.0 * (bmi - 30.0).max(0.0).powf(1.5)
                + 40.0 * gauss(&mut r);
            (row.map(|v| v as f32), t.clamp(25.0, 346.0) as f32)
        })
        .collect()
}

/// The rows as a dataset with one value target.
pub fn dataset(n: usize, seed: u64) -> Dataset {
    let rows = rows(n, seed);
    Dataset::new(
        "diabetes-like",
        rows.iter().flat_map(|(x, _)| *x).collect(),
        n,
        10,
        Targets::Values {
            values: rows.iter().map(|(_, y)| *y).collect(),
            width: 1,
        },
    )
    .unwrap()
}

/// The rows as a CSV file with `HEADER`, values to 3 decimals.
pub fn csv(n: usize, seed: u64) -> String {
    let mut s = format!("{HEADER}\n");
    for (x, y) in rows(n, seed) {
        let cells: Vec<String> = x.iter().chain([&y]).map(|v| format!("{v:.3}")).collect();
        s += &(cells.join(",") + "\n");
    }
    s
}
