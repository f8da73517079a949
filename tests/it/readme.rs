//! The README's examples are a test: every command of its "Using the API" part runs, in
//! order, through `bash` against a fresh demo served by the real binary, and every
//! documented answer is compared with what the server said. All drifts are reported at once.
//!
//! What runs: each ```` ```sh ```` (or `bash`) block between `## Using the API` and the next `## `
//! heading, except blocks whose fence says `no-test` (```` ```sh no-test ````). A command is
//! one or more lines (a trailing `\` or an open quote continues it); comment lines between
//! commands are prose. The commands run unchanged, with `K` and the demo's tokens (`ADMIN`,
//! `MANAGER`, …) set, in the repository root; `curl` is a shell function that calls the real
//! curl with `--dump-header` and `--output` added so the test sees each call's status and
//! headers while the command prints what it always prints (a command that saves the body
//! itself with `-o FILE` keeps it; then only status and headers can be documented). Examples
//! must not use `-i`, `-D` or `-w`: the test reads status and headers itself.
//!
//! Documented answers: a comment line starting with `# →` right after a command describes
//! the answer of its last `curl` call:
//!
//! ```text
//! # → [STATUS] [header-name: value]... [BODY] [(remark)]
//! ```
//!
//! - `STATUS` (three digits) must equal the status; without it any 2xx passes.
//! - `header-name: value` (no spaces in the value) must be a response header with that value.
//! - `BODY` is JSON with `…` (U+2026) allowed, and may continue on the following `#` lines
//!   while it is incomplete. An object matches when every key shown is present and matches
//!   (others may follow; writing `…` among the members is for the reader). An array matches
//!   its elements in order and exactly, except that a `…` element stands for any number of
//!   elements (`[a,…]` a prefix, `[…,a,…]` contains `a`). A bare `…` value matches any value.
//!   Inside a string `…` matches any characters (`"a997…"`); a string as the whole `BODY` is
//!   matched against the raw answer text (CSV, Prometheus).
//! - `(remark)` after the body is ignored.
//!
//! A command without a documented answer, and every earlier `curl` call of a command, must
//! answer 2xx; every command must exit 0. Set `KALEDGER_README_ANSWERS=1` (with
//! `-- --nocapture`) to print every answer the server gave, to update the README.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{run_cli, Server};

/// How long the whole README may take against the debug build before the test fails.
const README_SECONDS_MAX: u64 = 120;
/// How much of an answer a mismatch report shows.
const SHOWN_CHARS_MAX: usize = 1_500;

// ---- The README: blocks, commands, documented answers ----

/// One command of the README and the answer documented under it.
#[derive(Debug)]
struct Example {
    /// 1-based line of the command's first line in README.md.
    line: usize,
    command: String,
    answer: Option<Answer>,
}

/// A documented answer (`# → …`).
#[derive(Debug)]
struct Answer {
    line: usize,
    source: String,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Option<Pattern>,
}

/// The runnable examples of the README's "Using the API" part, in order.
fn examples(readme: &str) -> Result<Vec<Example>, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "## Using the API")
        .ok_or("README.md has no `## Using the API` heading")?;
    let mut examples = Vec::new();
    let mut i = start + 1;
    while i < lines.len() && !lines[i].starts_with("## ") {
        let fence = lines[i].trim_start();
        if let Some(info) = fence.strip_prefix("```") {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_start().starts_with("```"))
                .ok_or_else(|| format!("README.md:{}: unclosed code block", i + 1))?;
            let mut words = info.split_whitespace();
            let shell = matches!(words.next(), Some("sh" | "bash"));
            if shell && !words.any(|w| w == "no-test") {
                examples.extend(block_examples(&lines[i + 1..end], i + 2)?);
            }
            i = end;
        }
        i += 1;
    }
    Ok(examples)
}

/// The commands of one block (`first` is the README line of `block[0]`) with their answers.
fn block_examples(block: &[&str], first: usize) -> Result<Vec<Example>, String> {
    let mut examples: Vec<Example> = Vec::new();
    // True while the previous line ended a command (or its answer): an answer may follow.
    let mut answer_may_follow = false;
    let mut i = 0;
    while i < block.len() {
        let line = block[i];
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("# →") {
            let at = first + i;
            let example = examples
                .last_mut()
                .filter(|e| answer_may_follow && e.answer.is_none())
                .ok_or_else(|| {
                    format!("README.md:{at}: `# →` must come right after its command")
                })?;
            let (answer, used) = parse_answer(rest, &block[i + 1..], at)?;
            example.answer = Some(answer);
            i += 1 + used;
            answer_may_follow = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            answer_may_follow = false;
            i += 1;
            continue;
        }
        let mut command = String::new();
        let start = i;
        loop {
            let line = block
                .get(i)
                .ok_or_else(|| format!("README.md:{}: unfinished command", first + start))?;
            command.push_str(line);
            command.push('\n');
            i += 1;
            if command_complete(&command) {
                break;
            }
        }
        examples.push(Example {
            line: first + start,
            command,
            answer: None,
        });
        answer_may_follow = true;
    }
    Ok(examples)
}

/// True when `text` is a whole shell command: no open quote, no trailing `\`.
fn command_complete(text: &str) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for line in text.lines() {
        let mut previous = ' ';
        for c in line.chars() {
            if escaped {
                escaped = false;
            } else if single {
                single = c != '\'';
            } else if c == '\\' {
                escaped = true;
            } else if double {
                double = c != '"';
            } else if c == '#' && previous.is_whitespace() {
                break; // a comment runs to the end of the line
            } else if c == '\'' {
                single = true;
            } else if c == '"' {
                double = true;
            }
            previous = c;
        }
        // A backslash at the end of a line escapes only the newline.
        escaped = false;
    }
    let continued = text.trim_end_matches('\n').ends_with('\\');
    !single && !double && !continued
}

/// Parses `# → …` (its text after the arrow) and the `#` lines it continues on; returns the
/// answer and how many following lines it used.
fn parse_answer(first: &str, next: &[&str], line: usize) -> Result<(Answer, usize), String> {
    let err = |msg: String| format!("README.md:{line}: {msg}");
    let mut rest = first.trim_start();
    let mut status = None;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() == 3 {
        status = Some(digits.parse::<u16>().map_err(|e| err(e.to_string()))?);
        rest = rest[3..].trim_start();
    }
    let mut headers = Vec::new();
    while let Some((name, after)) = header_name(rest) {
        let after = after.trim_start();
        let value: String = after.chars().take_while(|c| !c.is_whitespace()).collect();
        if value.is_empty() {
            return Err(err(format!("header `{name}:` has no value")));
        }
        headers.push((name.to_ascii_lowercase(), value.clone()));
        rest = after[value.len()..].trim_start();
    }
    let mut text = rest.to_string();
    let mut source = format!("→ {}", first.trim());
    let mut used = 0;
    let body = loop {
        if text.trim().is_empty() || text.trim_start().starts_with('(') {
            break None;
        }
        match Parser::new(&text).pattern() {
            Ok((pattern, tail)) => {
                let tail = tail.trim();
                if !tail.is_empty() && !tail.starts_with('(') {
                    return Err(err(format!("unexpected text after the answer: {tail:?}")));
                }
                break Some(pattern);
            }
            Err(ParseError::Incomplete) => {
                let more = next
                    .get(used)
                    .and_then(|l| l.trim_start().strip_prefix('#'))
                    .ok_or_else(|| err("the documented answer is unfinished".into()))?;
                text.push('\n');
                text.push_str(more);
                source.push_str("\n  #");
                source.push_str(more);
                used += 1;
            }
            Err(ParseError::Invalid(msg)) => return Err(err(msg)),
        }
    };
    let answer = Answer {
        line,
        source,
        status,
        headers,
        body,
    };
    Ok((answer, used))
}

/// `name:` at the start of `text` (a header, never a JSON value): the name and what follows.
fn header_name(text: &str) -> Option<(&str, &str)> {
    let end = text.find(':')?;
    let name = &text[..end];
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| (name, &text[end + 1..]))
}

// ---- Documented bodies: JSON with `…` ----

/// A documented body.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    /// A bare `…`: any value; in an array, any number of elements.
    Any,
    Literal(Value),
    /// A string split at each `…`.
    Text(Vec<String>),
    List(Vec<Pattern>),
    Object(Vec<(String, Pattern)>),
}

/// Why a documented body does not parse.
#[derive(Debug, PartialEq)]
enum ParseError {
    /// It ends early: it continues on the next line.
    Incomplete,
    Invalid(String),
}

const ELLIPSIS: char = '…';

/// A recursive-descent parser of JSON with `…`.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, at: 0 }
    }

    /// One pattern and the text after it.
    fn pattern(mut self) -> Result<(Pattern, &'a str), ParseError> {
        let p = self.value()?;
        Ok((p, &self.text[self.at..]))
    }

    fn peek(&mut self) -> Result<char, ParseError> {
        let rest = &self.text[self.at..];
        let skipped = rest.len() - rest.trim_start().len();
        self.at += skipped;
        self.text[self.at..]
            .chars()
            .next()
            .ok_or(ParseError::Incomplete)
    }

    fn bump(&mut self, c: char) {
        self.at += c.len_utf8();
    }

    fn invalid<T>(&self, what: &str) -> Result<T, ParseError> {
        let near: String = self.text[self.at..].chars().take(20).collect();
        Err(ParseError::Invalid(format!("{what} at {near:?}")))
    }

    fn value(&mut self) -> Result<Pattern, ParseError> {
        match self.peek()? {
            ELLIPSIS => {
                self.bump(ELLIPSIS);
                Ok(Pattern::Any)
            }
            '{' => self.object(),
            '[' => self.list(),
            '"' => {
                let s = self.string()?;
                if s.contains(ELLIPSIS) {
                    Ok(Pattern::Text(
                        s.split(ELLIPSIS).map(str::to_string).collect(),
                    ))
                } else {
                    Ok(Pattern::Literal(Value::String(s)))
                }
            }
            _ => self.scalar(),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.at;
        self.bump('"');
        let mut escaped = false;
        for (offset, c) in self.text[self.at..].char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                self.at += offset + 1;
                return serde_json::from_str(&self.text[start..self.at])
                    .map_err(|e| ParseError::Invalid(format!("bad string: {e}")));
            }
        }
        Err(ParseError::Incomplete)
    }

    fn scalar(&mut self) -> Result<Pattern, ParseError> {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .unwrap_or(rest.len());
        if len == 0 {
            return self.invalid("expected a JSON value or …");
        }
        if len == rest.len() {
            return Err(ParseError::Incomplete); // a value is followed by `,`, `]` or `}`
        }
        match serde_json::from_str::<Value>(&rest[..len]) {
            Ok(v) => {
                self.at += len;
                Ok(Pattern::Literal(v))
            }
            Err(_) => self.invalid("expected a JSON value or …"),
        }
    }

    fn list(&mut self) -> Result<Pattern, ParseError> {
        self.bump('[');
        let mut items = Vec::new();
        if self.peek()? == ']' {
            self.bump(']');
            return Ok(Pattern::List(items));
        }
        loop {
            items.push(self.value()?);
            match self.peek()? {
                ',' => self.bump(','),
                ']' => {
                    self.bump(']');
                    return Ok(Pattern::List(items));
                }
                _ => return self.invalid("expected `,` or `]`"),
            }
        }
    }

    fn object(&mut self) -> Result<Pattern, ParseError> {
        self.bump('{');
        let mut members = Vec::new();
        loop {
            match self.peek()? {
                '}' => {
                    self.bump('}');
                    return Ok(Pattern::Object(members));
                }
                ELLIPSIS => self.bump(ELLIPSIS),
                '"' => {
                    let key = self.string()?;
                    if self.peek()? != ':' {
                        return self.invalid("expected `:`");
                    }
                    self.bump(':');
                    members.push((key, self.value()?));
                }
                _ => return self.invalid("expected a key, `…` or `}`"),
            }
            match self.peek()? {
                ',' => self.bump(','),
                '}' => {}
                _ => return self.invalid("expected `,` or `}`"),
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Any => write!(f, "…"),
            Pattern::Literal(v) => write!(f, "{v}"),
            Pattern::Text(parts) => write!(f, "{}", Value::String(parts.join("…"))),
            Pattern::List(items) => {
                let items: Vec<String> = items.iter().map(|p| p.to_string()).collect();
                write!(f, "[{}]", items.join(","))
            }
            Pattern::Object(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, p)| format!("{}:{p}", Value::String(k.clone())))
                    .collect();
                write!(f, "{{{}}}", members.join(","))
            }
        }
    }
}

// ---- Matching ----

/// True when `text` matches the pieces of a string with `…` (each `…` any characters).
fn text_matches(parts: &[String], text: &str) -> bool {
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if !text.starts_with(first.as_str()) || text.len() < first.len() + last.len() {
        return false;
    }
    if !text.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// True when `value` matches `pattern`.
fn matches(pattern: &Pattern, value: &Value) -> bool {
    let mut mismatches = Vec::new();
    check(pattern, value, "$", &mut mismatches);
    mismatches.is_empty()
}

/// True when the elements match the patterns, each `…` standing for any run of elements.
fn list_matches(patterns: &[Pattern], values: &[Value]) -> bool {
    match patterns.split_first() {
        None => values.is_empty(),
        Some((Pattern::Any, rest)) => (0..=values.len()).any(|k| list_matches(rest, &values[k..])),
        Some((p, rest)) => {
            values.first().is_some_and(|v| matches(p, v)) && list_matches(rest, &values[1..])
        }
    }
}

/// Shows a value for a report, cut at [`SHOWN_CHARS_MAX`].
fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS_MAX) {
        Some((at, _)) => format!("{}… ({} chars in all)", &text[..at], text.chars().count()),
        None => text.to_string(),
    }
}

/// Appends to `out` every way `value` (at `path`) departs from `pattern`.
fn check(pattern: &Pattern, value: &Value, path: &str, out: &mut Vec<String>) {
    match (pattern, value) {
        (Pattern::Any, _) => {}
        (Pattern::Literal(expected), v) if expected == v => {}
        (Pattern::Text(parts), Value::String(s)) if text_matches(parts, s) => {}
        (Pattern::Object(members), Value::Object(map)) => {
            for (key, p) in members {
                let at = format!("{path}.{key}");
                match map.get(key) {
                    Some(v) => check(p, v, &at, out),
                    None => out.push(format!("{at}: missing (documented {p})")),
                }
            }
        }
        (Pattern::List(items), Value::Array(values)) => check_list(items, values, path, out),
        (p, v) => out.push(format!(
            "{path}: documented {p}, server {}",
            shown(&v.to_string())
        )),
    }
}

/// [`check`] for arrays: element by element without `…`, as an ordered glob with it.
fn check_list(items: &[Pattern], values: &[Value], path: &str, out: &mut Vec<String>) {
    if !items.contains(&Pattern::Any) {
        if items.len() != values.len() {
            out.push(format!(
                "{path}: documented {} element(s), server {} (write `…` for more)",
                items.len(),
                values.len()
            ));
        }
        for (i, (p, v)) in items.iter().zip(values).enumerate() {
            check(p, v, &format!("{path}[{i}]"), out);
        }
        return;
    }
    if list_matches(items, values) {
        return;
    }
    // Say which documented element could not be placed, and why against the next candidate.
    let mut cursor = 0;
    let anchored = items.first() != Some(&Pattern::Any);
    for (i, p) in items.iter().enumerate() {
        if *p == Pattern::Any {
            continue;
        }
        let must_be_here = i == 0 && anchored;
        let found = if must_be_here {
            values.first().filter(|v| matches(p, v)).map(|_| 0)
        } else {
            (cursor..values.len()).find(|&j| matches(p, &values[j]))
        };
        match found {
            Some(j) => cursor = j + 1,
            None => {
                let mut why = Vec::new();
                if let Some(v) = values.get(cursor) {
                    check(p, v, &format!("{path}[{cursor}]"), &mut why);
                }
                out.push(format!(
                    "{path}: documented element {p} not found in order among the server's {} element(s){}",
                    values.len(),
                    why.first().map(|w| format!(" (next one: {w})")).unwrap_or_default()
                ));
                return;
            }
        }
    }
    out.push(format!(
        "{path}: the documented elements are there but the array does not end as documented"
    ));
}

// ---- Running the examples ----

/// What one `curl` call answered.
#[derive(Debug)]
struct Call {
    exit: i32,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// What one example did.
#[derive(Debug, Default)]
struct Outcome {
    /// None when the script never reached the command.
    exit: Option<i32>,
    output: String,
    calls: Vec<Call>,
}

/// The bash prologue: a `curl` function recording each call of the current command.
const PROLOGUE: &str = r#"
__kr_seq=0
curl() {
    local n f rc a prev="" own=""
    n=$(( $(cat "$__kr_dir/seq" 2>/dev/null || echo 0) + 1 ))
    echo "$n" >"$__kr_dir/seq"
    f="$__kr_dir/$__kr_cmd.call.$n"
    for a in "$@"; do
        case "$prev" in -o|--output) own=yes ;; esac
        prev="$a"
    done
    if [ -n "$own" ]; then
        # The command saves the body itself (-o FILE): only status and headers are checked.
        command curl -q --max-time 30 --dump-header "$f.head" "$@"
        rc=$?
        : >"$f.body"
    else
        command curl -q --max-time 30 --dump-header "$f.head" --output "$f.body" "$@"
        rc=$?
        [ -f "$f.body" ] && cat "$f.body"
    fi
    echo "$rc" >"$f.exit"
    return "$rc"
}
"#;

/// The script that runs every example, each in braces so assignments (`HASH=…`) persist.
fn script(examples: &[Example]) -> String {
    let mut s = String::from(PROLOGUE);
    for (i, e) in examples.iter().enumerate() {
        s.push_str(&format!(
            "__kr_cmd={i}\n{{\n{}}} >\"$__kr_dir/{i}.out\" 2>&1\necho $? >\"$__kr_dir/{i}.exit\"\n",
            e.command
        ));
    }
    s
}

/// Reads what the script recorded for example `i`.
fn outcome(dir: &Path, i: usize) -> Outcome {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let exit = read(dir.join(format!("{i}.exit"))).trim().parse().ok();
    let mut calls: BTreeMap<u64, Call> = BTreeMap::new();
    let prefix = format!("{i}.call.");
    for entry in std::fs::read_dir(dir).expect("read the calls directory") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".exit"))
        else {
            continue;
        };
        let file = |ext: &str| dir.join(format!("{prefix}{n}.{ext}"));
        let (status, headers) = parse_head(&read(file("head")));
        calls.insert(
            n.parse().expect("call number"),
            Call {
                exit: read(file("exit")).trim().parse().unwrap_or(-1),
                status,
                headers,
                body: read(file("body")),
            },
        );
    }
    Outcome {
        exit,
        output: read(dir.join(format!("{i}.out"))),
        calls: calls.into_values().collect(),
    }
}

/// The status and headers of the last response in a `--dump-header` file (after any 100).
fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let last = head
        .split("\r\n\r\n")
        .filter(|b| b.starts_with("HTTP/"))
        .last()
        .unwrap_or("");
    let mut lines = last.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// Every way an example's outcome departs from the README (empty: as documented).
fn judge(example: &Example, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match outcome.exit {
        None => return vec!["never ran: the script stopped before it".into()],
        Some(0) => {}
        Some(code) => problems.push(format!(
            "exited {code}; it printed: {}",
            shown(&outcome.output)
        )),
    }
    let Some((last, earlier)) = outcome.calls.split_last() else {
        problems.push("made no curl call".into());
        return problems;
    };
    for call in outcome.calls.iter().filter(|c| c.exit != 0) {
        problems.push(format!("curl exited {} (no answer)", call.exit));
    }
    for call in earlier.iter().filter(|c| !(200..300).contains(&c.status)) {
        problems.push(format!(
            "an earlier call answered {}: {}",
            call.status,
            shown(&call.body)
        ));
    }
    let Some(answer) = &example.answer else {
        if !(200..300).contains(&last.status) {
            problems.push(format!(
                "answered {} with no documented answer (document it with `# → {}`): {}",
                last.status,
                last.status,
                shown(&last.body)
            ));
        }
        return problems;
    };
    match answer.status {
        Some(s) if s != last.status => {
            problems.push(format!("status: documented {s}, server {}", last.status))
        }
        None if !(200..300).contains(&last.status) => {
            problems.push(format!("status: documented 2xx, server {}", last.status))
        }
        _ => {}
    }
    for (name, value) in &answer.headers {
        let got = last.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if got != Some(value) {
            let got = got.map_or("absent".to_string(), |v| format!("{v:?}"));
            problems.push(format!("header {name}: documented {value:?}, server {got}"));
        }
    }
    match &answer.body {
        None => {}
        Some(Pattern::Text(parts)) if !text_matches(parts, &last.body) => problems.push(format!(
            "text: the server's answer (above) does not match {}",
            Pattern::Text(parts.clone())
        )),
        Some(Pattern::Text(_)) => {}
        Some(p) => match serde_json::from_str::<Value>(&last.body) {
            Ok(v) => check(p, &v, "$", &mut problems),
            Err(_) => problems.push(format!("not JSON: {}", shown(&last.body))),
        },
    }
    problems
}

/// Runs the demo without serving and returns the variables of its `export` line.
fn demo(data: &Path, root: &Path) -> Vec<(String, String)> {
    let fixtures = root.join("fixtures/demo");
    let out = run_cli([
        "demo".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--no-serve".as_ref(),
        "--fixtures".as_ref(),
        fixtures.as_os_str(),
    ] as [&std::ffi::OsStr; 6]);
    assert!(out.success(), "demo failed: {}", out.stderr);
    let export = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("export "))
        .unwrap_or_else(|| panic!("the demo printed no export line:\n{}", out.stdout));
    export
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs `script` with bash in `root`; kills it after [`README_SECONDS_MAX`].
fn run_bash(script_path: &Path, root: &Path, env: &[(String, String)]) {
    let mut child = Command::new("bash")
        .arg(script_path)
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bash must be installed to run the README's examples");
    let deadline = Instant::now() + Duration::from_secs(README_SECONDS_MAX);
    while child.try_wait().expect("wait for bash").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the README's examples ran longer than {README_SECONDS_MAX} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first line of a command, for reports.
fn first_line(command: &str) -> &str {
    command.lines().next().unwrap_or("").trim()
}

/// The report of one example that drifted (None: it answered as documented).
fn report(example: &Example, outcome: &Outcome) -> Option<String> {
    let problems = judge(example, outcome);
    if problems.is_empty() {
        return None;
    }
    let documented = example
        .answer
        .as_ref()
        .map(|a| format!("\n  README.md:{}: {}", a.line, a.source))
        .unwrap_or_default();
    let server_said = outcome
        .calls
        .last()
        .map(|c| format!("\n  server: {} {}", c.status, shown(c.body.trim_end())))
        .unwrap_or_default();
    Some(format!(
        "README.md:{}: {}{documented}{server_said}\n  - {}",
        example.line,
        first_line(&example.command),
        problems.join("\n  - ")
    ))
}

// Proves the README's examples, run in order against a fresh demo, answer as documented.
#[test]
fn examples_answer_as_documented() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let examples = examples(&readme).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        examples.len() > 20,
        "only {} examples found",
        examples.len()
    );
    let curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        curl.is_ok_and(|s| s.success()),
        "curl must be installed to run the README's examples (apt-get install curl)"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut env = demo(&tmp.path().join("demo"), &root);
    let server = Server::start(&tmp.path().join("demo/ledger"));
    let calls = tmp.path().join("calls");
    std::fs::create_dir(&calls).expect("calls dir");
    env.push(("K".into(), server.base.clone()));
    env.push(("__kr_dir".into(), calls.display().to_string()));
    let script_path = tmp.path().join("readme.sh");
    std::fs::write(&script_path, script(&examples)).expect("write the script");
    run_bash(&script_path, &root, &env);
    server.stop();

    let show = std::env::var_os("KALEDGER_README_ANSWERS").is_some();
    let mut reports = Vec::new();
    for (i, example) in examples.iter().enumerate() {
        let outcome = outcome(&calls, i);
        if let (true, Some(last)) = (show, outcome.calls.last()) {
            println!(
                "README.md:{}: {}\n  → {} {}\n",
                example.line,
                first_line(&example.command),
                last.status,
                last.body.trim_end()
            );
        }
        reports.extend(report(example, &outcome));
    }
    assert!(
        reports.is_empty(),
        "{} of {} README examples drifted from the server:\n\n{}\n",
        reports.len(),
        examples.len(),
        reports.join("\n\n")
    );
}

// ---- The grammar itself ----

/// Parses a one-line documented answer (the text after `# →`).
fn answer(text: &str) -> Answer {
    parse_answer(text, &[], 1).expect("a valid answer").0
}

/// The body of a one-line answer matched against a JSON value.
fn body_matches(text: &str, value: Value) -> bool {
    matches(answer(text).body.as_ref().expect("a body"), &value)
}

// Proves the status, headers, body and remark of `# →` are read as documented.
#[test]
fn answer_line_has_status_headers_body_and_remark() {
    let a = answer(r#" 201 idempotent-replayed: true {"recorded":1,…}   (the stored answer)"#);
    assert_eq!(a.status, Some(201));
    assert_eq!(
        a.headers,
        vec![("idempotent-replayed".to_string(), "true".to_string())]
    );
    assert_eq!(
        a.body,
        Some(Pattern::Object(vec![(
            "recorded".into(),
            Pattern::Literal(1.into())
        )]))
    );
    let bare = answer(" 404");
    assert_eq!((bare.status, bare.body), (Some(404), None));
    assert!(parse_answer(r#" 200 {"a":1} trailing"#, &[], 7)
        .unwrap_err()
        .contains("README.md:7"));
}

// Proves an unfinished body continues on the following `#` lines, and only on them.
#[test]
fn answer_continues_on_comment_lines() {
    let (a, used) = parse_answer(
        r#" 200 {"a":1,"#,
        &[r#"#    "b":[1,"#, "#  2]}", "# prose"],
        1,
    )
    .expect("continued");
    assert_eq!(used, 2);
    assert!(matches(
        a.body.as_ref().unwrap(),
        &serde_json::json!({"a":1,"b":[1,2],"c":3})
    ));
    let err = parse_answer(r#" 200 {"a":1,"#, &["curl next"], 1).unwrap_err();
    assert!(err.contains("unfinished"), "{err}");
}

// Proves objects match as subsets, arrays exactly or as a glob with `…`, strings with `…`.
#[test]
fn bodies_match_subsets_globs_and_ellipses() {
    let v = serde_json::json!({"id":"a9973e","n":2,"rows":[{"k":1},{"k":2},{"k":3}]});
    assert!(body_matches(r#"{"n":2}"#, v.clone()));
    assert!(body_matches(r#"{"id":"a99…","n":…,…}"#, v.clone()));
    assert!(!body_matches(r#"{"id":"b…"}"#, v.clone()));
    assert!(!body_matches(r#"{"missing":…}"#, v.clone()));
    assert!(body_matches(r#"{"rows":[{"k":1},…]}"#, v.clone()));
    assert!(body_matches(r#"{"rows":[…,{"k":3}]}"#, v.clone()));
    assert!(body_matches(r#"{"rows":[…,{"k":2},…]}"#, v.clone()));
    assert!(!body_matches(r#"{"rows":[{"k":2},…]}"#, v.clone()));
    assert!(!body_matches(r#"{"rows":[{"k":1}]}"#, v.clone()));
    assert!(!body_matches(r#"{"rows":[…,{"k":3},{"k":2}]}"#, v.clone()));
    assert!(body_matches(
        r#"{"rows":[{"k":1},{"k":2},{"k":3}]}"#,
        v.clone()
    ));
    assert!(body_matches(
        r#"{"rows":[]}"#,
        serde_json::json!({"rows":[]})
    ));
    assert!(!body_matches(r#"{"n":"2"}"#, v));
}

// Proves every mismatch is reported with its path, not only the first.
#[test]
fn mismatches_name_every_path() {
    let p = answer(r#" {"a":1,"b":{"c":"x"},"d":[1,2]}"#).body.unwrap();
    let mut out = Vec::new();
    check(
        &p,
        &serde_json::json!({"a":2,"b":{"c":"y"},"d":[1]}),
        "$",
        &mut out,
    );
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(
        out[0].starts_with("$.a:") && out[1].starts_with("$.b.c:") && out[2].starts_with("$.d:")
    );
}

// Proves a string body is matched against the raw text and malformed bodies are refused.
#[test]
fn text_bodies_and_malformed_answers() {
    let a = answer(r#" 200 "kind,program_id…contest_award,MOON-2026-Q3…""#);
    let Some(Pattern::Text(parts)) = a.body else {
        panic!("a text pattern")
    };
    assert!(text_matches(
        &parts,
        "kind,program_id,x\ncontest_award,MOON-2026-Q3,metro\n"
    ));
    assert!(!text_matches(&parts, "kind,program_id,x\n"));
    for bad in [r#" {"a" 1}"#, " {a:1}", r#" [1 2]"#, " 200 nope"] {
        assert!(
            parse_answer(bad, &[], 1).is_err(),
            "{bad} should be refused"
        );
    }
}

// Proves commands span `\` continuations and open quotes, and comments split examples.
#[test]
fn commands_span_continuations_and_quotes() {
    let block = [
        "# prose",
        "curl -s $K/a \\",
        "  -d '{",
        "  \"x\":1}'",
        "# → 201",
        "curl -s $K/b   # {\"inline\":\"prose\"}",
        "# prose between",
        "curl -s $K/c",
    ];
    let examples = block_examples(&block, 10).expect("parsed");
    assert_eq!(examples.len(), 3);
    assert_eq!(
        (examples[0].line, examples[1].line, examples[2].line),
        (11, 15, 17)
    );
    assert_eq!(
        examples[0].answer.as_ref().map(|a| a.status),
        Some(Some(201))
    );
    let orphan = ["curl -s $K/a", "# prose", "# → 200"];
    assert!(block_examples(&orphan, 1)
        .unwrap_err()
        .contains("right after"));
}
