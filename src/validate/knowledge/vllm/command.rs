//! Reading a whole `vllm serve` command line the way the real parser does, step by step.

use std::collections::HashMap;

use super::advice::{AdviceKind, FlagAdvice, flag_advice};
use super::flags::{FlagInfo, FlagLookup, Nargs, VllmFlags};

/// How the model was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Positional,
    /// `--model X` or `--model=X` (deprecated).
    ModelFlag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelArg {
    pub value: String,
    /// Index in the argument list of the value.
    pub index: usize,
    pub source: ModelSource,
}

/// One flag occurrence on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFlag {
    /// As written (`--max_model_len=8192`).
    pub written: String,
    /// The registered option string (`--max-model-len`); for dotted JSON args the base flag.
    pub flag: &'static str,
    pub dest: &'static str,
    /// Index of the flag in the argument list.
    pub index: usize,
    /// Values with the index they came from (an inline `=value` has the flag's own index).
    pub values: Vec<(String, usize)>,
    /// For `--json-arg.key value`: the dotted key.
    pub json_key: Option<String>,
}

/// Something the real parser would reject or warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandProblem {
    /// `serve` (or `vllm serve`) at the start: the entrypoint already is `vllm serve`, so it would be taken as the
    /// model name.
    LeadingServe {
        index: usize,
    },
    UnknownFlag {
        index: usize,
        written: String,
        suggestion: Option<&'static str>,
    },
    DeprecatedFlag {
        index: usize,
        flag: &'static str,
        replacement: &'static str,
        why: &'static str,
    },
    Abbreviated {
        index: usize,
        written: String,
        full: &'static str,
    },
    MissingValue {
        index: usize,
        flag: &'static str,
    },
    /// `--switch=value`: argparse rejects "ignored explicit argument".
    UnexpectedValue {
        index: usize,
        flag: &'static str,
    },
    InvalidChoice {
        index: usize,
        flag: &'static str,
        value: String,
        choices: Vec<&'static str>,
    },
    /// A positional after the model: argparse fails with "unrecognized arguments".
    ExtraPositional {
        index: usize,
        value: String,
    },
    /// The same destination set twice; the later one wins (or, for enable/disable pairs, they contradict).
    Duplicate {
        first: usize,
        second: usize,
        dest: &'static str,
    },
    /// Both a positional model and `--model`.
    ModelGivenTwice {
        positional: usize,
        flag: usize,
    },
    /// `--served-model-name` without a positional model or `--config`: vLLM raises "`model` should be provided as
    /// the first positional argument" (argparse_utils.py:357-367).
    ServedNameWithoutModel {
        index: usize,
    },
    /// No model at all (neither positional, `--model`, nor `--config` that might hold one).
    NoModel,
    /// A `nargs='+'` flag swallowed what looks like the model (`--served-model-name a Qwen/Qwen2.5`).
    ModelSwallowed {
        flag_index: usize,
        value_index: usize,
    },
}

/// A `vllm serve` command line (the compose `command`, without the entrypoint), read like the real parser does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    pub model: Option<ModelArg>,
    pub flags: Vec<ParsedFlag>,
    /// `--config <file>`: a YAML file that may set more flags (and the model); its content is not checked here.
    pub config_file: Option<(String, usize)>,
    pub problems: Vec<CommandProblem>,
}

impl ParsedCommand {
    /// The occurrences of a registered flag (or any flag with the same destination, e.g. `-tp`).
    pub fn find(&self, flag: &str) -> impl Iterator<Item = &ParsedFlag> {
        let dest = VllmFlags::latest_dest(flag);
        self.flags
            .iter()
            .filter(move |f| f.flag == flag || dest.is_some_and(|d| d == f.dest))
    }

    /// The last value given for a flag (argparse: last one wins).
    pub fn value_of(&self, flag: &str) -> Option<&str> {
        self.find(flag)
            .filter_map(|f| f.values.last())
            .last()
            .map(|(v, _)| v.as_str())
    }

    pub fn has(&self, flag: &str) -> bool {
        self.find(flag).next().is_some()
    }

    /// Advice that applies to this command: redundant flags, missing companions, risky combinations.
    pub fn advice(&self) -> Vec<(usize, &'static FlagAdvice)> {
        let mut out = Vec::new();
        for f in &self.flags {
            for a in flag_advice(f.flag) {
                let applies = match a.kind {
                    AdviceKind::Redundant | AdviceKind::NoEffect => true,
                    AdviceKind::Requires(other) => !self.has(other),
                    AdviceKind::RiskyWith(other) => self.has(other),
                };
                if applies {
                    out.push((f.index, a));
                }
            }
        }
        out
    }
}

impl VllmFlags {
    /// Read a `vllm serve` argument list (the compose `command`), the way FlexibleArgumentParser + argparse would.
    pub fn parse_command(&self, args: &[String]) -> ParsedCommand {
        let mut reader = CommandReader::new(self, args);
        reader.skip_leading_serve();
        while reader.next < args.len() {
            reader.read_argument();
        }
        reader.settle_model();
        reader.report_swallowed_model();
        reader.report_duplicates();
        reader.out
    }
}

/// One left-to-right pass over a command line, and what it has found so far.
struct CommandReader<'t, 'a> {
    table: &'t VllmFlags,
    args: &'a [String],
    /// Index of the next argument to read.
    next: usize,
    /// After `--`, everything is positional.
    only_positionals: bool,
    positionals: Vec<(String, usize)>,
    /// The value of `--model`, with its index.
    model_flag: Option<(String, usize)>,
    out: ParsedCommand,
}

impl<'t, 'a> CommandReader<'t, 'a> {
    fn new(table: &'t VllmFlags, args: &'a [String]) -> Self {
        Self {
            table,
            args,
            next: 0,
            only_positionals: false,
            positionals: Vec::new(),
            model_flag: None,
            out: ParsedCommand {
                model: None,
                flags: Vec::new(),
                config_file: None,
                problems: Vec::new(),
            },
        }
    }

    fn problem(&mut self, problem: CommandProblem) {
        self.out.problems.push(problem);
    }

    /// The argument at `index`, if there is one and it is not a flag (so it may be a value).
    fn value_at(&self, index: usize) -> Option<&'a String> {
        self.args.get(index).filter(|v| !looks_like_flag(v))
    }

    /// The entrypoint already is `vllm serve`; a leading `serve` / `vllm serve` becomes the model name.
    fn skip_leading_serve(&mut self) {
        let args = self.args;
        let first = args.first().map(String::as_str);
        if !matches!(first, Some("serve" | "vllm")) {
            return;
        }
        self.problem(CommandProblem::LeadingServe { index: 0 });
        self.next = if first == Some("vllm") && args.get(1).is_some_and(|a| a == "serve") {
            2
        } else {
            1
        };
    }

    /// Read the argument at `next` (and the values it takes), moving `next` past them.
    fn read_argument(&mut self) {
        let args = self.args;
        let index = self.next;
        let Some(arg) = args.get(index) else {
            return;
        };
        self.next += 1;
        if self.only_positionals || !looks_like_flag(arg) {
            self.positionals.push((arg.clone(), index));
            return;
        }
        if arg == "--" {
            self.only_positionals = true;
            return;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        if self.read_short_optimization_level(arg, index) {
            return;
        }
        let Some((info, json_key)) = self.resolve_flag(name, index) else {
            // Unknown arity: a following non-flag is most likely its value, not the model.
            if inline.is_none() && self.value_at(self.next).is_some() {
                self.next += 1;
            }
            return;
        };
        let values = match &json_key {
            Some(_) => self.read_dotted_value(info, inline, index),
            None => {
                let values = self.read_values(info, inline, index);
                self.check_choices(info, &values, index);
                values
            }
        };
        self.remember_model_and_config(info, json_key.is_some(), &values);
        self.out.flags.push(ParsedFlag {
            written: arg.clone(),
            flag: info.flag,
            dest: info.dest,
            index,
            values,
            json_key,
        });
    }

    /// `-O3`, `-O=3`, `-Odecode`: one argument carrying the optimization level. A lone `-O` is only rewritten
    /// when a level 0-3 follows; otherwise argparse does not know it. Returns whether the argument was one of these.
    fn read_short_optimization_level(&mut self, arg: &str, index: usize) -> bool {
        if arg.starts_with("-O") && arg != "-O" {
            let level = arg
                .strip_prefix("-O=")
                .or_else(|| arg.strip_prefix("-O"))
                .unwrap_or_default();
            if let Some(info) = self.table.get("--optimization-level") {
                self.out.flags.push(ParsedFlag {
                    written: arg.to_owned(),
                    flag: info.flag,
                    dest: info.dest,
                    index,
                    values: vec![(level.to_owned(), index)],
                    json_key: None,
                });
            }
            return true;
        }
        let level_follows = self
            .args
            .get(index + 1)
            .is_some_and(|n| ["0", "1", "2", "3"].contains(&n.as_str()));
        if arg == "-O" && !level_follows {
            self.problem(CommandProblem::UnknownFlag {
                index,
                written: arg.to_owned(),
                suggestion: Some("--optimization-level"),
            });
            return true;
        }
        false
    }

    /// The registered flag `name` stands for, and the dotted JSON key it sets, reporting deprecated, abbreviated
    /// and unknown spellings. `None` for an unknown flag.
    fn resolve_flag(&mut self, name: &str, index: usize) -> Option<(&'t FlagInfo, Option<String>)> {
        let table = self.table;
        match table.lookup(name) {
            FlagLookup::Known(info) => Some((info, None)),
            FlagLookup::Deprecated {
                info,
                replacement,
                why,
            } => {
                self.problem(CommandProblem::DeprecatedFlag {
                    index,
                    flag: info.flag,
                    replacement,
                    why,
                });
                Some((info, None))
            }
            FlagLookup::Abbreviation { of } => {
                self.problem(CommandProblem::Abbreviated {
                    index,
                    written: name.to_owned(),
                    full: of.flag,
                });
                Some((of, None))
            }
            FlagLookup::DottedJson { base, key } => Some((base, Some(key))),
            FlagLookup::Unknown { suggestion } => {
                self.problem(CommandProblem::UnknownFlag {
                    index,
                    written: name.to_owned(),
                    suggestion,
                });
                None
            }
        }
    }

    /// vLLM takes the next argument unconditionally as the value of a dotted key.
    fn read_dotted_value(
        &mut self,
        info: &FlagInfo,
        inline: Option<String>,
        flag_index: usize,
    ) -> Vec<(String, usize)> {
        if let Some(v) = inline {
            return vec![(v, flag_index)];
        }
        let index = self.next;
        match self.args.get(index) {
            Some(v) => {
                self.next += 1;
                vec![(v.clone(), index)]
            }
            None => {
                self.problem(CommandProblem::MissingValue {
                    index: flag_index,
                    flag: info.flag,
                });
                Vec::new()
            }
        }
    }

    /// The values a flag consumes by its `nargs`, as argparse takes them.
    fn read_values(
        &mut self,
        info: &FlagInfo,
        inline: Option<String>,
        flag_index: usize,
    ) -> Vec<(String, usize)> {
        let missing = CommandProblem::MissingValue {
            index: flag_index,
            flag: info.flag,
        };
        let mut values = Vec::new();
        match (info.nargs, inline) {
            (Nargs::Zero, Some(_)) => self.problem(CommandProblem::UnexpectedValue {
                index: flag_index,
                flag: info.flag,
            }),
            (Nargs::Zero, None) => {}
            (_, Some(v)) => values.push((v, flag_index)),
            (Nargs::One, None) => match self.value_at(self.next) {
                Some(v) => {
                    values.push((v.clone(), self.next));
                    self.next += 1;
                }
                None => self.problem(missing),
            },
            (Nargs::Optional, None) => {
                if let Some(v) = self.value_at(self.next) {
                    values.push((v.clone(), self.next));
                    self.next += 1;
                }
            }
            (Nargs::OneOrMore, None) => {
                while let Some(v) = self.value_at(self.next) {
                    values.push((v.clone(), self.next));
                    self.next += 1;
                }
                if values.is_empty() {
                    self.problem(missing);
                }
            }
        }
        values
    }

    fn check_choices(&mut self, info: &FlagInfo, values: &[(String, usize)], flag_index: usize) {
        if info.choices.is_empty() {
            return;
        }
        for (v, _) in values {
            if !info.choices.contains(&v.as_str()) {
                self.problem(CommandProblem::InvalidChoice {
                    index: flag_index,
                    flag: info.flag,
                    value: v.clone(),
                    choices: info.choices.clone(),
                });
            }
        }
    }

    /// `--model` and `--config` change how the model is found, so their values are kept aside.
    fn remember_model_and_config(
        &mut self,
        info: &FlagInfo,
        dotted: bool,
        values: &[(String, usize)],
    ) {
        let Some((v, vi)) = values.first() else {
            return;
        };
        if info.flag == "--model" && !dotted {
            self.model_flag = Some((v.clone(), *vi));
        }
        if info.flag == "--config" {
            self.out.config_file = Some((v.clone(), *vi));
        }
    }

    /// argparse fills the single optional positional (`model_tag`) with the first positional it meets.
    fn settle_model(&mut self) {
        let mut positionals = std::mem::take(&mut self.positionals).into_iter();
        let positional_model = positionals.next();
        for (value, index) in positionals {
            self.problem(CommandProblem::ExtraPositional { index, value });
        }
        match (positional_model, self.model_flag.take()) {
            (Some((value, index)), flag) => {
                if let Some((_, flag_index)) = flag {
                    self.problem(CommandProblem::ModelGivenTwice {
                        positional: index,
                        flag: flag_index,
                    });
                }
                self.out.model = Some(ModelArg {
                    value,
                    index,
                    source: ModelSource::Positional,
                });
            }
            (None, Some((value, index))) => {
                self.out.model = Some(ModelArg {
                    value,
                    index,
                    source: ModelSource::ModelFlag,
                });
            }
            (None, None) => self.report_missing_model(),
        }
    }

    /// No model anywhere: fine with `--config` (the file may name it), otherwise say what the parser will.
    fn report_missing_model(&mut self) {
        if self.out.config_file.is_some() {
            return;
        }
        let served_name = self
            .out
            .flags
            .iter()
            .find(|f| f.dest == "served_model_name")
            .map(|f| (f.index, f.values.get(1).map(|(_, vi)| *vi)));
        match served_name {
            Some((index, second_value)) => {
                self.problem(CommandProblem::ServedNameWithoutModel { index });
                if let Some(value_index) = second_value {
                    self.problem(CommandProblem::ModelSwallowed {
                        flag_index: index,
                        value_index,
                    });
                }
            }
            None => self.problem(CommandProblem::NoModel),
        }
    }

    /// A `+` flag that swallowed a model-looking value while no model was found elsewhere.
    fn report_swallowed_model(&mut self) {
        if self.out.model.is_some() {
            return;
        }
        let mut swallowed = Vec::new();
        for f in &self.out.flags {
            if f.dest != "served_model_name"
                && self
                    .table
                    .get(f.flag)
                    .is_some_and(|i| i.nargs == Nargs::OneOrMore)
                && f.values.len() > 1
                && let Some((_, vi)) = f.values.last()
            {
                swallowed.push(CommandProblem::ModelSwallowed {
                    flag_index: f.index,
                    value_index: *vi,
                });
            }
        }
        self.out.problems.extend(swallowed);
    }

    /// Duplicates by destination: later wins silently in argparse, which hides mistakes.
    fn report_duplicates(&mut self) {
        let mut seen: HashMap<&'static str, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for f in &self.out.flags {
            if f.json_key.is_some() || self.table.get(f.flag).is_some_and(FlagInfo::repeatable) {
                continue;
            }
            if let Some(first) = seen.insert(f.dest, f.index) {
                duplicates.push(CommandProblem::Duplicate {
                    first,
                    second: f.index,
                    dest: f.dest,
                });
            }
        }
        self.out.problems.extend(duplicates);
    }
}

/// argparse treats an argument as a flag when it starts with `-` and is not a negative number (vLLM registers no
/// option that looks like a negative number, so `-1` is a value).
pub(super) fn looks_like_flag(arg: &str) -> bool {
    if !arg.starts_with('-') || arg == "-" {
        return false;
    }
    let rest = &arg[1..];
    !(rest.parse::<f64>().is_ok()
        && rest
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.'))
}
