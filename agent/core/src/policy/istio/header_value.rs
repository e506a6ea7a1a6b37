//! Header values as Envoy reads them when Istio sets or adds a header: `%` starts a variable
//! (`%HOSTNAME%`, `%REQ(x-id)%`, `%VAR(["a","b"])%`) and `%%` is a literal percent sign.

/// Where the reader is inside a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Literal,
    Name,
    ExpectArray,
    ExpectString,
    InString,
    ExpectCommaOrEnd,
    ExpectCloseParen,
    ExpectPercent,
}

/// Checks a header value; the error says what is wrong.
pub fn check(value: &str) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| (c.is_control() && *c != '\t') || *c == '\u{7f}')
    {
        return Err(format!(
            "holds the control character {:?}; header values cannot",
            c
        ));
    }
    let bytes = value.as_bytes();
    let mut state = State::Literal;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let has_next = i + 1 < bytes.len();
        match state {
            State::Literal if b == b'%' => {
                if !has_next {
                    return Err("ends with a lone `%`; write `%%` for a percent sign".into());
                }
                if bytes[i + 1] == b'%' {
                    i += 1;
                } else {
                    state = State::Name;
                }
            }
            State::Literal => {}
            State::Name => match b {
                b'%' => state = State::Literal,
                b'(' => state = State::ExpectArray,
                _ => {}
            },
            State::ExpectArray => {
                if b == b'[' {
                    state = State::ExpectString;
                } else if b != b' ' {
                    state = State::InString;
                }
            }
            State::ExpectCommaOrEnd => match b {
                b',' => state = State::ExpectString,
                b']' => state = State::ExpectCloseParen,
                b' ' => {}
                _ => return Err("a variable's argument list expects `,` or `]`".into()),
            },
            State::ExpectString => match b {
                b'"' => state = State::InString,
                b' ' => {}
                _ => return Err("a variable's argument list expects a quoted string".into()),
            },
            State::InString => match b {
                b'\\' if !has_next => {
                    return Err("a variable's argument ends with a lone `\\`".into());
                }
                b'\\' => i += 1,
                b')' => state = State::ExpectPercent,
                b'"' => state = State::ExpectCommaOrEnd,
                _ => {}
            },
            State::ExpectCloseParen => match b {
                b')' => state = State::ExpectPercent,
                b' ' => {}
                _ => return Err("a variable's arguments must end with `)`".into()),
            },
            State::ExpectPercent => match b {
                b'%' => state = State::Literal,
                b' ' => {}
                _ => return Err("a variable must end with `%`".into()),
            },
        }
        i += 1;
    }
    if state == State::Literal {
        Ok(())
    } else {
        Err("has a `%` variable that is not closed; write `%%` for a percent sign".into())
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn envoy_variables_and_escapes() {
        for ok in [
            "",
            "plain",
            "%HOSTNAME%",
            "100%%",
            "prefix %REQ(x-id)% suffix",
            "%PER_REQUEST_STATE([\"a\", \"b\"])%",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in ["abc%123", "%START_TIME%%", "50%", "a\u{1}b", "%VAR([x])%"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
