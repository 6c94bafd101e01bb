//! `source.glob`: which file names an SFTP listing keeps. Shell wildcards
//! on one name (never a path): `*` any run of characters, `?` one
//! character, `[abc]`, `[a-z]` and `[!abc]` one character of (or not of) a
//! set. Anything else matches itself.

/// True when `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point (the last `*`): linear
    // in practice, never exponential on hostile names.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => {
                pi += 1;
                ni += 1;
                continue;
            }
            Some('[') if class(&p, pi, n[ni]).is_some() => {
                if let Some((true, next)) = class(&p, pi, n[ni]) {
                    pi = next;
                    ni += 1;
                    continue;
                }
            }
            Some(c) if *c == n[ni] => {
                pi += 1;
                ni += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether `c` is in the class starting at `p[at] == '['`, and the index
/// after its `]`; `None` when the class is not closed (then `[` is a
/// plain character).
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negated = matches!(p.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((hit != negated, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        for (pattern, name) in [
            ("*", "a.xml"),
            ("*", ""),
            ("*.xml", "orders-2024.xml"),
            ("orders-????.xml", "orders-2024.xml"),
            ("[a-c]*.csv", "b1.csv"),
            ("[!a-c]*.csv", "d1.csv"),
            ("*a*b*c", "xxaxxbxxc"),
            ("[]x]", "]"),
        ] {
            assert!(matches(pattern, name), "{pattern} {name}");
        }
        for (pattern, name) in [
            ("*.xml", "a.xml.part"),
            ("orders-????.xml", "orders-24.xml"),
            ("[a-c]*.csv", "d1.csv"),
            ("[!a-c]*.csv", "a1.csv"),
            ("a", "ab"),
            ("*a*b*c", "xxaxxbxx"),
        ] {
            assert!(!matches(pattern, name), "{pattern} {name}");
        }
        // An unclosed class is a plain '['.
        assert!(matches("[ab", "[ab"));
        // Hostile-length names stay linear.
        assert!(!matches("*a*a*a*a*a*b", &"a".repeat(10_000)));
    }
}
