//! The social relay's commands: propose a news item, and the core team's review of drafts —
//! list, show, approve, schedule, edit, reject, and delete what was published.

use super::{Handler, HandlerError, format_day};
use crate::commands::args::ArgValue;
use crate::core::actions::{Action, Change, Prompt};
use crate::core::lang::{self, Lang};
use crate::core::news::{self, DraftState, NewsDraft};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

/// "actu : …": a draft, previewed for the team.
pub(super) fn propose(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let Some(id) = h.ctx.news.new_id else {
        // The engine reserves a number for every line of a command that needs one.
        return Err(h.bad_argument("draft"));
    };
    let written = lang::detect(text).unwrap_or(h.lang);
    let draft = NewsDraft::new(
        id,
        "chat",
        &h.ctx.sender.to_string(),
        text,
        written,
        h.ctx.now,
    );
    Ok(vec![
        notice(
            h,
            &draft,
            "news/preview",
            preview_vars(h, &draft, "proposed"),
        ),
        Action::Change(Change::SaveDraft(draft)),
    ])
}

pub(super) fn list(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let drafts: Vec<Value> = h
        .ctx
        .news
        .recent
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "state": d.state.as_str(),
                "excerpt": excerpt(&d.text, 70),
                "author": d.author,
                "at": d.publish_at.map(|at| moment(h, at)),
            })
        })
        .collect();
    Ok(vec![h.say("news/list", json!({ "drafts": drafts }))?])
}

pub(super) fn show(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let draft = match named(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    Ok(vec![
        h.say("news/preview", preview_vars(h, draft, "shown"))?,
    ])
}

/// Publishes at once on every network: one outbox row each, keyed by the draft's revision.
pub(super) fn approve(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    decide(h, None)
}

pub(super) fn schedule(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Moment(day, time)) = h.args.get("at") else {
        return Err(h.bad_argument("at"));
    };
    // Without a time, the morning: when people read news, not at midnight.
    let time = time.unwrap_or_else(|| chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("9:00"));
    let at = match h.ctx.timezone.from_local_datetime(&day.and_time(time)) {
        chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
            at.with_timezone(&Utc)
        }
        // The hour skipped when clocks go forward: the first instant after it.
        chrono::LocalResult::None => h
            .ctx
            .timezone
            .from_local_datetime(&(day.and_time(time) + chrono::Duration::hours(1)))
            .earliest()
            .map_or(h.ctx.now, |at| at.with_timezone(&Utc)),
    };
    if at <= h.ctx.now {
        return Ok(vec![h.say("news/past", json!({ "at": moment(h, at) }))?]);
    }
    decide(h, Some(at))
}

fn decide(h: &Handler<'_>, at: Option<DateTime<Utc>>) -> Result<Vec<Action>, HandlerError> {
    let draft = match open_draft(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    if h.ctx.news.channels.is_empty() {
        return Ok(vec![h.say("news/no_networks", json!({ "id": draft.id }))?]);
    }
    let mut actions = Vec::new();
    if draft.state == DraftState::Scheduled {
        // Its rows wait under the old revision's keys: dropped, and new ones queued.
        actions.push(Action::Change(Change::CancelPublication {
            draft: draft.id,
        }));
    }
    let (decided, jobs) = news::approve(draft, &h.ctx.news.channels, &h.ctx.sender.to_string(), at);
    for (key, connector, job) in jobs {
        actions.push(Action::Publish {
            key,
            connector,
            job,
            not_before: at,
        });
    }
    let networks: Vec<&str> = h
        .ctx
        .news
        .channels
        .iter()
        .map(|c| c.network.name())
        .collect();
    let vars = json!({
        "id": decided.id,
        "by": who(h),
        "networks": networks,
        "at": at.map(|at| moment(h, at)),
    });
    actions.push(notice(
        h,
        &decided,
        if at.is_some() {
            "news/scheduled"
        } else {
            "news/approved"
        },
        vars,
    ));
    actions.push(Action::Change(Change::SaveDraft(decided)));
    Ok(actions)
}

pub(super) fn reject(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let draft = match open_draft(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    let mut rejected = draft.clone();
    rejected.state = DraftState::Rejected;
    rejected.publish_at = None;
    rejected.decided_by = Some(h.ctx.sender.to_string());
    let mut actions = Vec::new();
    if draft.state == DraftState::Scheduled {
        actions.push(Action::Change(Change::CancelPublication {
            draft: draft.id,
        }));
    }
    actions.push(notice(
        h,
        &rejected,
        "news/rejected",
        json!({ "id": rejected.id, "by": who(h) }),
    ));
    actions.push(Action::Change(Change::SaveDraft(rejected)));
    Ok(actions)
}

/// A new text: a new revision, previewed again, waiting for a new decision (an edited
/// scheduled draft is no longer scheduled: nobody approved the new text).
pub(super) fn edit(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let draft = match open_draft(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    let mut edited = draft.clone();
    edited.text = text.trim().to_string();
    edited.lang = lang::detect(text).unwrap_or(draft.lang);
    Ok(revised(h, draft, edited))
}

/// Most images a post takes on every network (Mastodon, Bluesky and X alike).
const MAX_IMAGES: usize = 4;

/// "avertissement 4 : …": Mastodon's content warning, or "aucun"/"none" to remove it; a new
/// revision, previewed again.
pub(super) fn warning(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let draft = match open_draft(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    let mut edited = draft.clone();
    let text = text.trim();
    edited.content_warning = (!["aucun", "aucune", "none", "sans", "without"]
        .contains(&text.to_lowercase().as_str()))
    .then(|| text.to_string());
    Ok(revised(h, draft, edited))
}

/// A draft changed by the team: a new revision waiting for a new decision (a schedule is
/// cancelled: nobody approved the change), previewed again.
fn revised(h: &Handler<'_>, draft: &NewsDraft, mut edited: NewsDraft) -> Vec<Action> {
    edited.revision += 1;
    edited.state = DraftState::Pending;
    edited.publish_at = None;
    let mut actions = Vec::new();
    if draft.state == DraftState::Scheduled {
        actions.push(Action::Change(Change::CancelPublication {
            draft: draft.id,
        }));
    }
    actions.push(notice(
        h,
        &edited,
        "news/preview",
        preview_vars(h, &edited, "edited"),
    ));
    actions.push(Action::Change(Change::SaveDraft(edited)));
    actions
}

/// "image 4 : <address> | <alt text>": an image for the draft, or "aucune"/"none" to remove
/// them; a new revision, previewed again.
pub(super) fn image(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let draft = match open_draft(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    let mut edited = draft.clone();
    let text = text.trim();
    if ["aucune", "aucun", "none", "sans", "without"].contains(&text.to_lowercase().as_str()) {
        edited.images.clear();
    } else {
        let (source, alt) = split_image(text);
        if alt.is_empty() {
            return Ok(vec![h.say(
                "news/image_alt",
                json!({ "id": draft.id, "source": source }),
            )?]);
        }
        if edited.images.len() >= MAX_IMAGES {
            return Ok(vec![h.say(
                "news/image_limit",
                json!({ "id": draft.id, "max": MAX_IMAGES }),
            )?]);
        }
        edited.images.push(crate::core::social::Image {
            source: source.to_string(),
            alt: alt.to_string(),
        });
    }
    Ok(revised(h, draft, edited))
}

/// The image's address and its alt text: "<address> | <alt>", "<address> — <alt>", "<address>
/// alt : <alt>", or the address and the rest of the line.
fn split_image(text: &str) -> (&str, &str) {
    let (source, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim_start();
    let rest = ["|", "—", "–", "-", ":"]
        .iter()
        .find_map(|sep| rest.strip_prefix(sep))
        .unwrap_or(rest)
        .trim_start();
    let lower = rest.to_lowercase();
    let rest = ["texte alternatif", "alt text", "alt"]
        .iter()
        .find(|label| lower.starts_with(*label))
        .map_or(rest, |label| {
            rest[label.len()..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start()
        });
    (source, rest.trim())
}

/// Deletes a published draft's posts on every network they are on.
pub(super) fn delete(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let draft = match named(h)? {
        Ok(draft) => draft,
        Err(answer) => return Ok(vec![answer]),
    };
    if draft.posts.is_empty() {
        return Ok(vec![h.say(
            "news/nothing_published",
            json!({ "id": draft.id, "state": draft.state.as_str() }),
        )?]);
    }
    let mut deleted = draft.clone();
    deleted.state = DraftState::Deleted;
    deleted.decided_by = Some(h.ctx.sender.to_string());
    // A network still retrying must not publish after the deletion (dropped before the
    // deletion rows are queued, in the same transaction).
    let mut actions = vec![Action::Change(Change::CancelPublication {
        draft: draft.id,
    })];
    let mut networks = Vec::new();
    for (connector, job) in news::deletions(draft) {
        networks.push(connector.clone());
        actions.push(Action::Publish {
            key: format!(
                "{}delete:r{}:{connector}",
                NewsDraft::key_prefix(draft.id),
                draft.revision
            ),
            connector,
            job,
            not_before: None,
        });
    }
    actions.push(notice(
        h,
        &deleted,
        "news/deleting",
        json!({ "id": deleted.id, "by": who(h), "networks": networks }),
    ));
    actions.push(Action::Change(Change::SaveDraft(deleted)));
    Ok(actions)
}

/// The draft's preview or decision, in the team's review thread for it.
fn notice(h: &Handler<'_>, draft: &NewsDraft, key: &str, vars: Value) -> Action {
    Action::NewsNotice {
        draft: draft.id,
        body: Prompt {
            lang: h.lang,
            key: key.to_string(),
            vars,
        },
    }
}

/// What the preview prompt shows: per network, each post exactly as it will be published and
/// what it uses of the network's limits; and what is already up.
pub(super) fn preview_vars(h: &Handler<'_>, draft: &NewsDraft, why: &str) -> Value {
    preview_view(
        draft,
        &h.ctx.news.channels,
        why,
        draft.publish_at.map(|at| moment(h, at)),
    )
}

/// The preview's variables, also used by the engine for drafts that arrive by mail or feed.
pub fn preview_view(
    draft: &NewsDraft,
    channels: &[news::Channel],
    why: &str,
    at: Option<String>,
) -> Value {
    json!({
        "id": draft.id,
        "why": why,
        "state": draft.state.as_str(),
        "author": draft.author,
        "source": draft.source,
        "revision": draft.revision,
        "text": draft.text,
        "at": at,
        "networks": news::preview(draft, channels),
        "posts": draft.posts.iter().map(|p| json!({"connector": p.connector, "index": p.post.index, "url": p.post.url})).collect::<Vec<_>>(),
    })
}

/// The draft the `draft` argument names, as the engine loaded it.
fn named<'a>(h: &Handler<'a>) -> Result<Result<&'a NewsDraft, Action>, HandlerError> {
    let Some(ArgValue::Draft(id)) = h.args.get("draft") else {
        return Err(h.bad_argument("draft"));
    };
    match h.ctx.news.by_id.get(id) {
        Some(draft) => Ok(Ok(draft)),
        None => Ok(Err(h.say("news/unknown", json!({ "id": id }))?)),
    }
}

/// The named draft, if a decision on it is still to come.
fn open_draft<'a>(h: &Handler<'a>) -> Result<Result<&'a NewsDraft, Action>, HandlerError> {
    Ok(match named(h)? {
        Ok(draft) if draft.state.open() => Ok(draft),
        Ok(draft) => Err(h.say(
            "news/closed",
            json!({ "id": draft.id, "state": draft.state.as_str(), "by": draft.decided_by }),
        )?),
        Err(answer) => Err(answer),
    })
}

fn who(h: &Handler<'_>) -> String {
    h.ctx
        .asker
        .map_or_else(|| h.ctx.sender.to_string(), |m| m.name.clone())
}

/// A moment in the network's time zone, as people read it.
fn moment(h: &Handler<'_>, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&h.ctx.timezone);
    let day = format_day(h.lang, local.date_naive());
    match h.lang {
        Lang::Fr => format!("{day} à {}", local.format("%H h %M")),
        Lang::En => format!("{day} at {}", local.format("%H:%M")),
    }
}

/// The start of a text, cut at a word, for lists.
fn excerpt(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max && !text.contains('\n') {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(max).collect();
    if let Some(space) = cut.rfind(' ')
        && space > max / 2
    {
        cut.truncate(space);
    }
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn an_image_line_gives_its_address_and_alt_text() {
        let cases = [
            (
                "https://ex.org/a.jpg | Une salle pleine",
                ("https://ex.org/a.jpg", "Une salle pleine"),
            ),
            (
                "https://ex.org/a.jpg — Une salle",
                ("https://ex.org/a.jpg", "Une salle"),
            ),
            (
                "/srv/img/a.png alt : A full room",
                ("/srv/img/a.png", "A full room"),
            ),
            ("a.png texte alternatif : Une carte", ("a.png", "Une carte")),
            (
                "https://ex.org/a.jpg Une salle",
                ("https://ex.org/a.jpg", "Une salle"),
            ),
            ("https://ex.org/a.jpg", ("https://ex.org/a.jpg", "")),
            ("https://ex.org/a.jpg |", ("https://ex.org/a.jpg", "")),
        ];
        for (text, expected) in cases {
            assert_eq!(split_image(text), expected, "{text}");
        }
    }
}
