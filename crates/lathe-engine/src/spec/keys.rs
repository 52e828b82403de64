//! Keys between stems: a stem processor may listen to another stem (`key = "vocal"` on a
//! dynamic EQ), so that stem's chain must run first. This file checks the names and finds the
//! order; a cycle is refused with the stems in it named.

use crate::spec::stem::StemSpec;

/// For each stem, the stems its chain is keyed on (indices, without repeats).
pub fn keys_of(stems: &[StemSpec]) -> Result<Vec<Vec<usize>>, String> {
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut found: Vec<usize> = Vec::new();
            for (j, p) in s.chain.iter().enumerate() {
                let Some(key) = p.key() else { continue };
                let at = format!("stem[{i}].chain[{j}].{}.key", p.name());
                let k = stems
                    .iter()
                    .position(|o| o.name == key)
                    .ok_or_else(|| format!("{at}: no stem is named '{key}'"))?;
                if k == i {
                    return Err(format!("{at}: a stem cannot be keyed on itself ('{key}')"));
                }
                if !found.contains(&k) {
                    found.push(k);
                }
            }
            Ok(found)
        })
        .collect()
}

/// The stems in an order where every key stem comes before the stems keyed on it (session
/// order otherwise). A cycle is an error naming its stems.
pub fn key_order(stems: &[StemSpec]) -> Result<Vec<usize>, String> {
    let keys = keys_of(stems)?;
    let mut order = Vec::with_capacity(stems.len());
    // 0: not visited, 1: on the current path, 2: placed.
    let mut mark = vec![0u8; stems.len()];
    let mut path = Vec::new();
    for i in 0..stems.len() {
        visit(i, &keys, &mut mark, &mut path, &mut order, stems)?;
    }
    Ok(order)
}

fn visit(
    i: usize,
    keys: &[Vec<usize>],
    mark: &mut [u8],
    path: &mut Vec<usize>,
    order: &mut Vec<usize>,
    stems: &[StemSpec],
) -> Result<(), String> {
    match mark[i] {
        2 => return Ok(()),
        1 => {
            let from = path.iter().position(|&p| p == i).unwrap_or(0);
            let names: Vec<&str> = path[from..]
                .iter()
                .chain(std::iter::once(&i))
                .map(|&k| stems[k].name.as_str())
                .collect();
            return Err(format!(
                "stem keys form a cycle: {} (each is keyed on the next)",
                names.join(" → ")
            ));
        }
        _ => {}
    }
    mark[i] = 1;
    path.push(i);
    for &k in &keys[i] {
        visit(k, keys, mark, path, order, stems)?;
    }
    path.pop();
    mark[i] = 2;
    order.push(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::chain::{DynamicEqSpec, ProcessorSpec};

    fn stem(name: &str, key: Option<&str>) -> StemSpec {
        let mut s = StemSpec::plain(format!("{name}.wav").into());
        s.name = name.into();
        if let Some(k) = key {
            s.chain.push(ProcessorSpec::DynamicEq(DynamicEqSpec {
                bands: vec![Default::default()],
                key: Some(k.into()),
            }));
        }
        s
    }

    #[test]
    fn key_stems_come_first() {
        let stems = [
            stem("guitar", Some("vocal")),
            stem("bass", Some("drums")),
            stem("vocal", None),
            stem("drums", None),
        ];
        let order = key_order(&stems).unwrap();
        let pos = |n: &str| order.iter().position(|&i| stems[i].name == n).unwrap();
        assert!(pos("vocal") < pos("guitar"));
        assert!(pos("drums") < pos("bass"));
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn cycles_unknown_and_self_keys_are_refused_by_name() {
        let cycle = [
            stem("a", Some("b")),
            stem("b", Some("c")),
            stem("c", Some("a")),
        ];
        let e = key_order(&cycle).unwrap_err();
        assert!(e.contains("a → b → c → a"), "{e}");
        let e = key_order(&[stem("a", Some("nobody"))]).unwrap_err();
        assert!(
            e.contains("stem[0].chain[0].dynamic_eq.key") && e.contains("'nobody'"),
            "{e}"
        );
        let e = key_order(&[stem("a", Some("a"))]).unwrap_err();
        assert!(e.contains("itself"), "{e}");
    }
}
