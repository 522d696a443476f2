//! `stats`: figures of the directory for the core team.

use super::{Handler, HandlerError};
use crate::core::actions::Action;
use crate::core::topics::TopicIdx;
use serde_json::json;

pub(super) fn stats(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let directory = h.ctx.directory;
    let vocabulary = h.ctx.vocabulary;
    let uncovered: Vec<String> = (0..vocabulary.len() as TopicIdx)
        .filter(|&t| directory.speaker_count(t) == 0)
        .map(|t| h.label(t))
        .collect();
    Ok(vec![h.say(
        "stats/show",
        json!({
            "members": directory.len(),
            "speakers": directory.members.iter().filter(|m| m.speaker_consent).count(),
            "organisations": directory.organisation_count(),
            "topics": vocabulary.len(),
            "uncovered": uncovered,
            "talks": directory.histories.iter().map(|h| h.total_interventions).sum::<u32>(),
        }),
    )?])
}
