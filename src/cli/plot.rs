//! `wgtrain plot`: training curves from a saved metrics file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use wgtrain::plot;

#[derive(Args)]
pub struct PlotArgs {
    /// A metrics file written by `wgtrain train --metrics` (one JSON object per epoch).
    metrics: PathBuf,
    /// The picture: .svg, or .png (needs a TrueType font such as DejaVu Sans).
    #[arg(long, value_name = "FILE", default_value = "wgtrain-plot.svg")]
    out: PathBuf,
}

pub fn run(a: PlotArgs) -> Result<()> {
    super::check_writable(&a.out)?;
    super::check_distinct(&[("METRICS", &a.metrics)], &[("--out", &a.out)])?;
    let metrics = plot::read_metrics(&a.metrics)?;
    for note in &metrics.notes {
        eprintln!("note: {note}");
    }
    plot::draw(&metrics.points, &a.out, super::font().as_deref())?;
    eprintln!(
        "drew {} epochs into {}",
        metrics.points.len(),
        a.out.display()
    );
    Ok(())
}
