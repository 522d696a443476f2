//! `help`: the commands the asker may use, or one command explained.

use super::{Handler, HandlerError, command_view};
use crate::commands::args::ArgValue;
use crate::core::actions::Action;
use serde_json::{Value, json};

pub(super) fn help(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let registry = h.ctx.registry;
    if let Some(ArgValue::Command(i)) = h.args.get("command") {
        let spec = &registry.get(*i).spec;
        return Ok(vec![h.say(
            "help/command",
            json!({
                "name": spec.name,
                "summary": spec.summary.get(h.lang),
                "help": spec.help.get(h.lang).trim(),
                "examples": spec.examples.get(h.lang),
                "role": spec.role.as_str(),
            }),
        )?]);
    }
    let commands: Vec<Value> = (0..registry.commands().len())
        .filter(|&i| registry.get(i).spec.role <= h.ctx.role)
        .map(|i| command_view(registry, i, h.lang))
        .collect();
    Ok(vec![h.say("help/list", json!({ "commands": commands }))?])
}
