//! The calculation language: `target = expression`, where an expression
//! is numbers, top-level field names, `+ - * /`, unary minus and
//! parentheses, with the usual precedence. Compiled to a small stack
//! program over f64.
//!
//! ```text
//! assignment := ident '=' expr
//! expr       := term (('+' | '-') term)*
//! term       := unary (('*' | '/') unary)*
//! unary      := '-' unary | atom
//! atom       := number | ident | '(' expr ')'
//! ident      := [A-Za-z_][A-Za-z0-9_]*
//! ```

/// One instruction of a compiled expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Push a constant.
    Const(f64),
    /// Push the value of variable slot `n` (a field or an earlier target).
    Load(usize),
    /// Pop b, pop a, push a + b.
    Add,
    /// Pop b, pop a, push a - b.
    Sub,
    /// Pop b, pop a, push a * b.
    Mul,
    /// Pop b, pop a, push a / b.
    Div,
    /// Negate the top.
    Neg,
}

/// One `target = expression`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Field written.
    pub target: String,
    /// Its variable slot.
    pub slot: usize,
    /// The program.
    pub ops: Vec<Op>,
}

/// All assignments of a transform, with the variable table they share.
#[derive(Debug, Clone, PartialEq)]
pub struct Calculations {
    /// In order of evaluation.
    pub assignments: Vec<Assignment>,
    /// Variable names by slot. Slots of earlier targets refer to their
    /// computed values; the rest are input fields.
    pub variables: Vec<String>,
    /// For each slot: whether it is read from the record (it is used
    /// before any assignment writes it).
    pub is_input: Vec<bool>,
}

impl Calculations {
    /// Parses the assignments.
    pub fn parse(lines: &[String]) -> Result<Self, String> {
        if lines.is_empty() {
            return Err("at least one calculation is required".into());
        }
        let mut calc = Calculations { assignments: Vec::new(), variables: Vec::new(), is_input: Vec::new() };
        let mut assigned: Vec<bool> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let (target, expr) = line
                .split_once('=')
                .ok_or_else(|| format!("calculation {i} {line:?}: expected `target = expression`"))?;
            let target = target.trim();
            if !is_ident(target) {
                return Err(format!("calculation {i}: target {target:?} is not a field name"));
            }
            if calc.assignments.iter().any(|a| a.target == target) {
                return Err(format!("calculation {i}: {target:?} is assigned twice"));
            }
            let mut parser = Parser { src: expr.as_bytes(), at: 0, ops: Vec::new(), calc: &mut calc };
            parser.expr()?;
            parser.skip_ws();
            if parser.at != parser.src.len() {
                return Err(format!(
                    "calculation {i} {line:?}: unexpected {:?} at column {}",
                    expr[parser.at..].chars().next().unwrap_or(' '),
                    parser.at
                ));
            }
            let ops = parser.ops;
            // Every slot loaded before being assigned comes from the record.
            for op in &ops {
                if let Op::Load(s) = *op {
                    assigned.resize(calc.variables.len(), false);
                    if !assigned[s] {
                        calc.is_input[s] = true;
                    }
                }
            }
            let slot = calc.slot(target);
            assigned.resize(calc.variables.len(), false);
            assigned[slot] = true;
            calc.assignments.push(Assignment { target: target.to_string(), slot, ops });
        }
        Ok(calc)
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.variables.iter().position(|v| v == name) {
            return i;
        }
        self.variables.push(name.to_string());
        self.is_input.push(false);
        self.variables.len() - 1
    }

    /// Runs assignment `a` with variable values `vars`.
    #[inline]
    pub fn eval(ops: &[Op], vars: &[f64], stack: &mut Vec<f64>) -> f64 {
        stack.clear();
        for op in ops {
            match *op {
                Op::Const(c) => stack.push(c),
                Op::Load(i) => stack.push(vars[i]),
                Op::Neg => {
                    if let Some(t) = stack.last_mut() {
                        *t = -*t;
                    }
                }
                bin => {
                    let b = stack.pop().unwrap_or(f64::NAN);
                    let a = stack.pop().unwrap_or(f64::NAN);
                    stack.push(match bin {
                        Op::Add => a + b,
                        Op::Sub => a - b,
                        Op::Mul => a * b,
                        _ => a / b,
                    });
                }
            }
        }
        stack.pop().unwrap_or(f64::NAN)
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
    ops: Vec<Op>,
    calc: &'a mut Calculations,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.at < self.src.len() && self.src[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.at).copied()
    }

    fn expr(&mut self) -> Result<(), String> {
        self.term()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.at += 1;
            self.term()?;
            self.ops.push(if c == b'+' { Op::Add } else { Op::Sub });
        }
        Ok(())
    }

    fn term(&mut self) -> Result<(), String> {
        self.unary()?;
        while let Some(c @ (b'*' | b'/')) = self.peek() {
            self.at += 1;
            self.unary()?;
            self.ops.push(if c == b'*' { Op::Mul } else { Op::Div });
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.at += 1;
            self.unary()?;
            self.ops.push(Op::Neg);
            return Ok(());
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(format!("expected ')' at column {}", self.at));
                }
                self.at += 1;
                Ok(())
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.at;
                while self.at < self.src.len()
                    && (self.src[self.at].is_ascii_digit()
                        || matches!(self.src[self.at], b'.' | b'e' | b'E')
                        || (matches!(self.src[self.at], b'+' | b'-')
                            && matches!(self.src[self.at - 1], b'e' | b'E')))
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.src[start..self.at]).unwrap_or("");
                let v: f64 = text.parse().map_err(|_| format!("bad number {text:?} at column {start}"))?;
                self.ops.push(Op::Const(v));
                Ok(())
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.at;
                while self.at < self.src.len()
                    && (self.src[self.at].is_ascii_alphanumeric() || self.src[self.at] == b'_')
                {
                    self.at += 1;
                }
                let name = std::str::from_utf8(&self.src[start..self.at]).unwrap_or("");
                let slot = self.calc.slot(name);
                self.ops.push(Op::Load(slot));
                Ok(())
            }
            Some(c) => Err(format!("unexpected {:?} at column {}", c as char, self.at)),
            None => Err("expression ends early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, vars: &[(&str, f64)]) -> f64 {
        let calc = Calculations::parse(&[src.to_string()]).unwrap();
        let values: Vec<f64> = calc
            .variables
            .iter()
            .map(|v| vars.iter().find(|(n, _)| n == v).map(|x| x.1).unwrap_or(f64::NAN))
            .collect();
        Calculations::eval(&calc.assignments[0].ops, &values, &mut Vec::new())
    }

    #[test]
    fn precedence_and_parens() {
        assert_eq!(run("s = stars * review_count", &[("stars", 3.5), ("review_count", 36.0)]), 126.0);
        assert_eq!(run("x = 1 + 2 * 3", &[]), 7.0);
        assert_eq!(run("x = (1 + 2) * 3", &[]), 9.0);
        assert_eq!(run("x = -a - -2", &[("a", 5.0)]), -3.0);
        assert_eq!(run("x = 10 / 4 - 1e1", &[]), -7.5);
    }

    #[test]
    fn errors() {
        for bad in ["x", "1x = a", "x = ", "x = (a", "x = a b", "x = a $ b"] {
            assert!(Calculations::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert!(Calculations::parse(&["x = a".into(), "x = b".into()]).is_err());
        assert!(Calculations::parse(&[]).is_err());
    }
}
