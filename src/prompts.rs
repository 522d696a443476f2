//! Every sentence the bot says lives in `prompts/<lang>/<key>.j2` (minijinja). Undefined
//! variables are errors, so a typo in a template or a missing field fails loudly in tests.

use crate::core::lang::Lang;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Template { path: PathBuf, message: String },
    #[error("prompt '{key}' exists in {present} but not in {missing}")]
    Missing {
        key: String,
        present: Lang,
        missing: Lang,
    },
    #[error("prompt {lang}/{key}: {message}")]
    Render {
        lang: Lang,
        key: String,
        message: String,
    },
}

/// The loaded templates of every language.
pub struct Prompts {
    env: Environment<'static>,
    keys: BTreeSet<String>,
    dir: PathBuf,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompts")
            .field("dir", &self.dir)
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn describe(err: &minijinja::Error) -> String {
    match err.line() {
        Some(line) => format!("line {line}: {err}"),
        None => err.to_string(),
    }
}

impl Prompts {
    /// Loads `dir/fr/**.j2` and `dir/en/**.j2`; every key must exist in both languages.
    pub fn load(dir: &Path) -> Result<Self, Vec<PromptError>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build();
        env.set_syntax(syntax.expect("the default delimiters are valid"));
        let mut errors = Vec::new();
        let mut per_lang: Vec<(Lang, BTreeSet<String>)> = Vec::new();
        for lang in Lang::ALL {
            let root = dir.join(lang.code());
            let mut keys = BTreeSet::new();
            let mut files = Vec::new();
            collect_templates(&root, &mut files, &mut errors);
            for path in files {
                let key = path
                    .strip_prefix(&root)
                    .unwrap_or(&path)
                    .with_extension("")
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/");
                match std::fs::read_to_string(&path) {
                    Ok(source) => {
                        let name = format!("{}/{key}", lang.code());
                        if let Err(e) = env.add_template_owned(name, source) {
                            errors.push(PromptError::Template {
                                path: path.clone(),
                                message: describe(&e),
                            });
                        }
                        keys.insert(key);
                    }
                    Err(source) => errors.push(PromptError::Read { path, source }),
                }
            }
            per_lang.push((lang, keys));
        }
        for (lang, keys) in &per_lang {
            for (other, other_keys) in &per_lang {
                for key in keys.difference(other_keys) {
                    errors.push(PromptError::Missing {
                        key: key.clone(),
                        present: *lang,
                        missing: *other,
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let keys = per_lang.into_iter().flat_map(|(_, k)| k).collect();
        Ok(Prompts {
            env,
            keys,
            dir: dir.to_path_buf(),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Renders one prompt; the text is trimmed of surrounding blank space.
    pub fn render<S: Serialize>(
        &self,
        lang: Lang,
        key: &str,
        context: S,
    ) -> Result<String, PromptError> {
        let fail = |e: minijinja::Error| PromptError::Render {
            lang,
            key: key.to_string(),
            message: describe(&e),
        };
        let template = self
            .env
            .get_template(&format!("{}/{key}", lang.code()))
            .map_err(fail)?;
        let text = template
            .render(minijinja::value::Serde(context))
            .map_err(fail)?;
        Ok(text.trim().to_string())
    }
}

fn collect_templates(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<PromptError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(PromptError::Read {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_templates(&path, out, errors);
        } else if path.extension().is_some_and(|e| e == "j2") {
            out.push(path);
        }
    }
}

/// Renders every prompt in every language with the sample variables of `samples.toml`
/// (one table per prompt key). Returns how many renderings succeeded, or every failure.
pub fn render_samples(prompts: &Prompts, samples_path: &Path) -> Result<usize, Vec<String>> {
    let source = std::fs::read_to_string(samples_path)
        .map_err(|e| vec![format!("{}: {e}", samples_path.display())])?;
    let samples: toml::Table =
        toml::from_str(&source).map_err(|e| vec![format!("{}: {e}", samples_path.display())])?;
    let mut errors = Vec::new();
    let mut rendered = 0;
    for key in prompts.keys() {
        // Keys are paths ("search/results"); in TOML they are quoted table names.
        let Some(vars) = samples.get(key) else {
            errors.push(format!(
                "{}: no sample for prompt '{key}'",
                samples_path.display()
            ));
            continue;
        };
        for lang in Lang::ALL {
            match prompts.render(lang, key, vars) {
                Ok(text) if text.is_empty() => {
                    errors.push(format!("prompt {lang}/{key} renders empty"))
                }
                Ok(_) => rendered += 1,
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    for key in samples.keys() {
        if !prompts.keys().any(|k| k == key) {
            errors.push(format!(
                "{}: sample for unknown prompt '{key}'",
                samples_path.display()
            ));
        }
    }
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(errors)
    }
}
