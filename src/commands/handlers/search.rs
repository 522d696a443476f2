//! `topics` and `find-speaker`: what the network covers, and who can speak on it.

use super::{Handler, HandlerError, format_day};
use crate::commands::args::ArgValue;
use crate::core::actions::{Action, Change};
use crate::core::directory::GENERAL_FIELD;
use crate::core::search::{self, Nearness};
use crate::core::topics::TopicIdx;
use serde_json::{Value, json};

pub(super) fn topics(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let vocabulary = h.ctx.vocabulary;
    let topics: Vec<Value> = (0..vocabulary.len() as TopicIdx)
        .map(|t| {
            json!({
                "label": h.label(t),
                "id": vocabulary.get(t).id,
                "sector": vocabulary.get(t).observatory.is_some(),
                "speakers": h.ctx.directory.speaker_count(t),
            })
        })
        .collect();
    Ok(vec![h.say("topics/list", json!({ "topics": topics }))?])
}

pub(super) fn find_speaker(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Speaker(request)) = h.args.get("query") else {
        return Err(h.bad_argument("query"));
    };
    let query = &request.query;
    let ctx = h.ctx;
    let outcome = search::search(
        ctx.directory,
        ctx.vocabulary,
        ctx.geography,
        query,
        ctx.weights,
        ctx.max_results,
    );
    let asked = json!({
        "topics": query.topics.iter().map(|&t| h.label(t)).collect::<Vec<_>>(),
        "place": query.place.map(|p| ctx.geography.label(p)),
        "language": query.language,
        "date": query.date.map(|d| format_day(h.lang, d)),
        "until": request.until.map(|d| format_day(h.lang, d)),
        "format": request.format,
        "online": request.online,
        "abroad": request.abroad,
        "general": query.topics.iter().any(|&t| ctx.vocabulary.get(t).id == GENERAL_FIELD),
    });
    if outcome.ranked.is_empty() {
        let suggestions: Vec<String> = outcome.suggestions.iter().map(|&t| h.label(t)).collect();
        return Ok(vec![h.say(
            "search/none",
            json!({ "asked": asked, "suggestions": suggestions, "unavailable": outcome.unavailable, "wrong_language": outcome.wrong_language }),
        )?]);
    }
    let results: Vec<Value> = outcome
        .ranked
        .iter()
        .enumerate()
        .map(|(n, ranked)| {
            let member = &ctx.directory.members[ranked.member];
            let history = &ctx.directory.histories[ranked.member];
            let place = ctx.directory.departments[ranked.member].map(|d| {
                let dep = ctx.geography.department(d);
                json!({ "department": dep.name, "region": ctx.geography.region(dep.region).name })
            });
            let nearness = ranked.nearness.as_ref().map(|n| match n {
                Nearness::SameDepartment => json!({ "kind": "department" }),
                Nearness::SameRegion => json!({ "kind": "region" }),
                Nearness::Distance(km) => json!({ "kind": "distance", "km": km }),
            });
            let last = history.last_intervention.as_ref().map(|(day, event)| {
                json!({ "date": format_day(h.lang, *day), "event": event, "days": (ctx.today - *day).num_days() })
            });
            json!({
                "rank": n + 1,
                "name": member.name,
                "organisation": member.organisation.as_deref().and_then(|o| ctx.directory.organisation(o)).map(|o| o.name.clone()),
                "elected": member.job_role == crate::core::directory::JobRole::Elected,
                "place": place,
                "languages": member.languages,
                "matched": ranked.matched_topics.iter().map(|&t| h.label(t)).collect::<Vec<_>>(),
                "nearness": nearness,
                "last": last,
                "recent": history.recent_interventions,
                "newcomer": ranked.newcomer,
                "contact": member.matrix_id.clone().unwrap_or_else(|| member.email.clone()),
            })
        })
        .collect();
    let proposed: Vec<i64> = outcome
        .ranked
        .iter()
        .map(|r| ctx.directory.members[r.member].id)
        .collect();
    Ok(vec![
        Action::Change(Change::RecordProposals {
            member_ids: proposed,
            on: ctx.today,
        }),
        h.say(
            "search/results",
            json!({
                "asked": asked,
                "results": results,
                "matching": outcome.matching,
                "unavailable": outcome.unavailable,
                "wrong_language": outcome.wrong_language,
            }),
        )?,
    ])
}
