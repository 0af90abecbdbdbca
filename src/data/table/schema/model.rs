//! A file described as a trained model's table reads it (`Schema::read_by`): what eval and
//! predict would make of each of its columns, and their error when they refuse it.

use std::path::Path;

use super::super::read::{header_names, open_text};
use super::super::{ColumnInfo, Kind, Need, Table};
use super::{Role, Schema, Tally, column};
use crate::error::{Error, Result};

impl Schema {
    /// Describes `path` as reading it with a trained model's `table` would: `need` as eval
    /// (`Need::Targets`) or predict (`Need::Features`) reads it. The file's own format
    /// (`Table::read`'s: its delimiter and decimal mark when they differ), its columns in its
    /// order, each laid over the table's as the read lays them (by name, else by position) with
    /// the table's role and kind, or `Unused`; the figures are this file's. The read itself is
    /// tried too: its error, when it refuses the file, is `refused` (and `refusal`). An error
    /// before any column is read (no such file, a column the read needs is absent) is the
    /// read's.
    pub fn read_by(path: &Path, table: &Table, need: Need) -> Result<Schema> {
        let mut opened = table.open(path, need)?;
        let (_, encoding) = open_text(path, table.text().encoding)?;
        // The table as this file is written (its own delimiter and number marks).
        let file_table = Table {
            delimiter: opened.format.delimiter,
            decimal: opened.format.decimal,
            thousands: opened.thousands,
            ..table.clone()
        };
        let layout = &opened.layout;
        let first: Vec<String> = opened.rec.record.iter().map(String::from).collect();
        let names = header_names(&first, layout.header);
        // Each file column's column of the table, if any.
        let mut of_file: Vec<Option<usize>> = vec![None; first.len()];
        for (j, f) in layout.src.iter().enumerate() {
            if let Some(f) = *f {
                of_file[f] = Some(j);
            }
        }
        let unused = Kind::Ignored;
        let kinds: Vec<&Kind> = of_file
            .iter()
            .map(|j| j.map_or(&unused, |j| &table.columns[j].kind))
            .collect();
        let mut tallies: Vec<Tally> = first.iter().map(|_| Tally::default()).collect();
        let (mut rows, mut dropped) = (0, 0);
        let mut row = |cells: Vec<&str>| {
            let drop = table.drop_missing_target
                && cells.iter().zip(&kinds).any(|(cell, k)| {
                    matches!(k, Kind::Label | Kind::Target) && table.is_missing(cell)
                });
            if drop {
                dropped += 1;
                return;
            }
            rows += 1;
            for ((t, cell), k) in tallies.iter_mut().zip(cells).zip(&kinds) {
                t.cell(cell, &file_table, k);
            }
        };
        if !layout.header {
            row(opened.rec.record.iter().collect());
        }
        while opened.rec.next()?.is_some() {
            row(opened.rec.record.iter().collect());
        }
        let columns = tallies
            .into_iter()
            .enumerate()
            .map(|(f, t)| {
                let name = names[f].clone();
                let mut c = match of_file[f] {
                    Some(j) => column(table, j, &table.columns[j], t, rows),
                    None => {
                        let info = ColumnInfo {
                            name: name.clone(),
                            kind: Kind::Ignored,
                            left_out: None,
                        };
                        let mut c = column(table, f, &info, t, rows);
                        c.role = Role::Unused;
                        c.why = Some("the model's table has no such column".into());
                        c
                    }
                };
                c.position = f + 1;
                c.name = name;
                c
            })
            .collect();
        let mut notes = Vec::new();
        let absent: Vec<&str> = (table.columns.iter().zip(&layout.src))
            .filter(|(_, f)| f.is_none())
            .map(|(c, _)| c.name.as_str())
            .collect();
        if !absent.is_empty() {
            notes.push(format!(
                "not in the file, not needed to {}: {}",
                if need == Need::Targets {
                    "evaluate"
                } else {
                    "predict"
                },
                absent.join(", ")
            ));
        }
        let refused = match table.read(path, need, None) {
            Ok(read) => {
                if read.counts.unseen > 0 {
                    notes.push(format!(
                        "{} categorical cells hold values the training file does not have; read as none of their column's levels",
                        read.counts.unseen
                    ));
                }
                None
            }
            Err(Error::Data { msg, .. }) => Some(msg),
            Err(e) => Some(e.to_string()),
        };
        Ok(Schema {
            file: path.display().to_string(),
            columns,
            delimiter: file_table.delimiter,
            decimal: file_table.decimal,
            thousands: file_table.thousands,
            header: layout.header,
            encoding: encoding.name().to_string(),
            comment: table.comment,
            rows,
            dropped,
            inputs: table.inputs(),
            outputs: table.outputs(),
            notes,
            refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::super::{CsvOptions, Need, Table};
    use super::super::{ColumnKind, Role, Schema};

    /// A file under the temp dir, unique to this process and test.
    fn temp(name: &str, text: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("wgtrain-by-model-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A table fitted to colour (a category), size (a number) and a label; `name` keeps the
    /// tests' training files apart.
    fn table(name: &str) -> Table {
        let mut text = String::from("colour,size,label\n");
        for i in 0..30 {
            let colour = ["red", "green", "blue"][i % 3];
            text += &format!(
                "{colour},{},{}\n",
                i % 7,
                if i % 2 == 0 { "a" } else { "b" }
            );
        }
        let p = temp(name, &text);
        let (t, _) = Table::fit(&p, &CsvOptions::default()).unwrap();
        std::fs::remove_file(&p).unwrap();
        t
    }

    #[test]
    fn columns_go_by_name_with_the_model_roles_and_this_files_figures() {
        let t = table("train-by-name.csv");
        // Reordered, ';'-separated, an extra column, a colour the model never saw, no label.
        let p = temp(
            "predict.csv",
            "note;size;colour\nx;10;red\ny;20;violet\nz;30;blue\n",
        );
        assert!(
            Schema::read_by(&p, &t, Need::Targets).is_err(),
            "no label to evaluate"
        );
        let s = Schema::read_by(&p, &t, Need::Features { strict: false }).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(s.delimiter, ';');
        assert_eq!(s.rows, 3);
        let got: Vec<(usize, &str, Role)> = s
            .columns
            .iter()
            .map(|c| (c.position, c.name.as_str(), c.role))
            .collect();
        assert_eq!(
            got,
            [
                (1, "note", Role::Unused),
                (2, "size", Role::Input),
                (3, "colour", Role::Input)
            ]
        );
        // The size figures are this file's (10 to 30), the colour levels the model's.
        let f = s.columns[1].figures.unwrap();
        assert_eq!((f.min, f.max, f.mean), (10.0, 30.0, 20.0));
        assert_eq!(s.columns[2].kind, ColumnKind::Categorical);
        assert_eq!(
            s.columns[2].levels.as_deref(),
            Some(&["blue".to_string(), "green".into(), "red".into()][..])
        );
        let notes = s.notes.join("\n");
        assert!(notes.contains("not needed to predict: label"), "{notes}");
        assert!(notes.contains("1 categorical cells hold values"), "{notes}");
        assert!(s.refusal().is_none());
    }

    #[test]
    fn the_reads_error_is_the_refusal() {
        let t = table("train-refusal.csv");
        let p = temp("eval.csv", "colour,size,label\nred,1,a\nblue,big,b\n");
        let s = Schema::read_by(&p, &t, Need::Targets).unwrap();
        let want = t.read(&p, Need::Targets, None).unwrap_err().to_string();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(s.columns[2].role, Role::Label);
        let got = s.refusal().expect("the read refuses the file").to_string();
        assert_eq!(got, want);
        assert!(got.contains("line 3") && got.contains("\"big\""), "{got}");
        let lines = s.lines(|n| format!("the setting `{n}`")).join("\n");
        assert!(lines.contains("refused: line 3"), "{lines}");
    }
}
