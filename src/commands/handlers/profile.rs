//! A member's own entry (profile, topics, time away, language, consent) and, for the core
//! team, other members' entries.

use super::{Handler, HandlerError, format_day};
use crate::commands::args::ArgValue;
use crate::core::actions::{Action, Change};
use crate::core::directory::Member;
use crate::core::lang::Lang;
use crate::prompts::PromptError;
use serde_json::{Value, json};

pub(super) fn my_profile(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    Ok(vec![profile(h, h.me()?, true)?])
}

pub(super) fn member_profile(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Member(i)) = h.args.get("member") else {
        return Err(h.bad_argument("member"));
    };
    Ok(vec![profile(h, &h.ctx.directory.members[*i], false)?])
}

fn profile(h: &Handler<'_>, member: &Member, own: bool) -> Result<Action, PromptError> {
    let ctx = h.ctx;
    let place = member
        .department
        .as_deref()
        .and_then(|d| ctx.geography.department_by_code(d))
        .map(|d| {
            let dep = ctx.geography.department(d);
            format!("{} ({})", dep.name, ctx.geography.region(dep.region).name)
        });
    let periods: Vec<Value> = member
        .unavailable
        .iter()
        .filter(|p| p.end >= ctx.today)
        .map(|p| json!({ "start": format_day(h.lang, p.start), "end": format_day(h.lang, p.end) }))
        .collect();
    let history = ctx
        .directory
        .index_of(member.id)
        .map(|i| &ctx.directory.histories[i]);
    h.say(
        "profile/show",
        json!({
            "own": own,
            "name": member.name,
            "email": member.email,
            "matrix": member.matrix_id,
            "organisation": member.organisation.as_deref().and_then(|o| ctx.directory.organisation(o)).map(|o| o.name.clone()),
            "elected": member.job_role == crate::core::directory::JobRole::Elected,
            "place": place,
            "topics": h.labels_of_ids(&member.topics),
            "languages": member.languages,
            "consent": member.speaker_consent,
            "unavailable": periods,
            "language": member.preferred_lang.map(|l| l.code()),
            "access": member.access.as_str(),
            "bio": member.bio,
            "talks": history.map(|h| h.total_interventions).unwrap_or(0),
        }),
    )
}

pub(super) fn edit_topics(h: &Handler<'_>, add: bool) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Topics(topics)) = h.args.get("topics") else {
        return Err(h.bad_argument("topics"));
    };
    let me = h.me()?;
    let ids: Vec<String> = topics
        .iter()
        .map(|&t| h.ctx.vocabulary.get(t).id.clone())
        .collect();
    let (changed, unchanged): (Vec<String>, Vec<String>) = ids
        .into_iter()
        .partition(|id| me.topics.contains(id) != add);
    let mut now: Vec<String> = me
        .topics
        .iter()
        .filter(|t| add || !changed.contains(t))
        .cloned()
        .collect();
    if add {
        now.extend(changed.iter().cloned());
    }
    let mut actions = Vec::new();
    if !changed.is_empty() {
        let member_id = me.id;
        let topics = changed.clone();
        actions.push(Action::Change(if add {
            Change::AddTopics { member_id, topics }
        } else {
            Change::RemoveTopics { member_id, topics }
        }));
    }
    actions.push(h.say(
        "profile/topics",
        json!({
            "added": add,
            "changed": h.labels_of_ids(&changed),
            "unchanged": h.labels_of_ids(&unchanged),
            "topics": h.labels_of_ids(&now),
        }),
    )?);
    Ok(actions)
}

pub(super) fn away(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Period(period)) = h.args.get("period") else {
        return Err(h.bad_argument("period"));
    };
    let me = h.me()?;
    Ok(vec![
        Action::Change(Change::AddUnavailability { member_id: me.id, period: *period }),
        h.say("profile/away", json!({ "start": format_day(h.lang, period.start), "end": format_day(h.lang, period.end) }))?,
    ])
}

pub(super) fn back(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let me = h.me()?;
    Ok(vec![
        Action::Change(Change::ClearUnavailability {
            member_id: me.id,
            from: h.ctx.today,
        }),
        h.say("profile/back", json!({}))?,
    ])
}

pub(super) fn my_language(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Language(code)) = h.args.get("language") else {
        return Err(h.bad_argument("language"));
    };
    let me = h.me()?;
    match code.parse::<Lang>() {
        Ok(chosen) => {
            // Confirm in the newly chosen language: that is the one they asked for.
            let text = h
                .ctx
                .prompts
                .render(chosen, "profile/language", json!({}))?;
            Ok(vec![
                Action::Change(Change::SetLanguage {
                    member_id: me.id,
                    lang: chosen,
                }),
                Action::Reply(text),
            ])
        }
        Err(_) => Ok(vec![
            h.say("errors/bot_language", json!({ "typed": code }))?,
        ]),
    }
}

/// `speaker-consent` and `speaker-withdraw`.
pub(super) fn consent(h: &Handler<'_>, consent: bool) -> Result<Vec<Action>, HandlerError> {
    let me = h.me()?;
    Ok(vec![
        Action::Change(Change::SetConsent {
            member_id: me.id,
            consent,
        }),
        h.say("profile/consent", json!({ "consent": consent }))?,
    ])
}
