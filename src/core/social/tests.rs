//! Length counting against the networks' published rules and examples, Bluesky facets at byte
//! offsets, and thread splitting.

use super::entities::ShortLink;
use super::*;

const FAMILY: &str = "👨\u{200D}👩\u{200D}👧\u{200D}👦"; // 4 emoji joined by 3 ZWJ: 25 bytes
const FLAG_FR: &str = "🇫🇷"; // two regional indicators: 8 bytes
const THUMB_MEDIUM: &str = "👍🏽"; // emoji + skin-tone modifier: 8 bytes
const E_PRECOMPOSED: &str = "\u{E9}"; // é, 2 bytes
const E_COMBINING: &str = "e\u{301}"; // e + combining acute, 3 bytes
const LONG_URL: &str = "https://www.data.gouv.fr/fr/datasets/base-adresse-nationale-ban-des-communes-françaises-été/?mode=complet";
/// An accented fragment after a query: Mastodon's URL rule takes it, twitter-text's stops at
/// the first non-ASCII character of a query.
const ACCENTED_QUERY_URL: &str = "https://exemple.fr/jeu?mode=complet#téléchargement";

/// (text, graphemes, UTF-8 bytes): what Bluesky counts.
const BLUESKY_CASES: &[(&str, usize, usize)] = &[
    ("hello", 5, 5),
    (FAMILY, 1, 25),
    (FLAG_FR, 1, 8),
    (THUMB_MEDIUM, 1, 8),
    (E_PRECOMPOSED, 1, 2),
    (E_COMBINING, 1, 3),
    ("日本語", 3, 9),
    ("l'open data « guillemets »", 26, 28),
    ("l’open data", 11, 13),
    ("🇫🇷🇩🇪", 2, 16),
];

#[test]
fn bluesky_counts_graphemes_and_bytes() {
    for &(text, graphemes, bytes) in BLUESKY_CASES {
        let m = length::bluesky(text);
        assert_eq!((m.used, m.bytes), (graphemes, bytes), "{text:?}");
        assert_eq!((m.limit, m.byte_limit), (300, Some(3000)));
    }
}

/// (text, weighted length): twitter-text v3. The first four are the examples of twitter-text's
/// own tests and conformance suite (`validate.yml`, weighted tweet length v3).
const X_CASES: &[(&str, usize)] = &[
    ("H🐱☺👨\u{200D}👩\u{200D}👧\u{200D}👦", 7),
    ("🙋🏽👨\u{200D}🎤", 4),
    (FAMILY, 2),
    (FLAG_FR, 2),
    (THUMB_MEDIUM, 2),
    ("hello", 5),
    // Code points up to U+10FF weigh 1: accents, « », NBSP.
    (E_PRECOMPOSED, 1),
    // X counts the NFC form: e + combining acute is é.
    (E_COMBINING, 1),
    ("l'open data « guillemets »", 26),
    ("l'open\u{A0}data\u{A0}!", 13),
    // U+2019 (’) is in U+2010-U+201F: 1. U+2026 (…) and U+202F (narrow no-break space, French
    // typography before ! ? ; :) are not in the light ranges: 2 each.
    ("l’open", 6),
    ("…", 2),
    ("Bravo\u{202F}!", 8),
    // CJK weighs 2.
    ("日本語", 6),
    ("데이터", 6),
    // Every URL weighs 23, whatever its length, accents and all; a bare domain too.
    (LONG_URL, 23),
    ("https://a.fr", 23),
    ("data.gouv.fr", 23),
    ("voir www.data.gouv.fr.", 29),
    // Two flags in a row are two emoji.
    ("🇫🇷🇩🇪", 4),
    ("1\u{FE0F}\u{20E3}", 2),
    // …but X's query stops at "#t": 23 + "éléchargement" (13).
    (ACCENTED_QUERY_URL, 36),
    ("voir https://exemple.fr/données/accès-été", 28),
];

#[test]
fn x_counts_the_weighted_length_of_twitter_text_v3() {
    for &(text, weighted) in X_CASES {
        assert_eq!(length::x(text).used, weighted, "{text:?}");
    }
    assert_eq!(length::x("").used, 0);
    assert_eq!(length::x("a").limit, 280);
}

/// (text, content warning, characters): Mastodon.
const MASTODON_CASES: &[(&str, &str, usize)] = &[
    ("hello", "", 5),
    (FAMILY, "", 1),
    (FLAG_FR, "", 1),
    (THUMB_MEDIUM, "", 1),
    (E_COMBINING, "", 1),
    ("日本語", "", 3),
    ("l'open data « guillemets »", "", 26),
    // A link with a scheme counts 23, whatever its length.
    (LONG_URL, "", 23),
    (ACCENTED_QUERY_URL, "", 23),
    ("https://a.fr", "", 23),
    // Trailing punctuation is not part of the link.
    ("(https://a.fr/x).", "", 26),
    ("https://fr.wikipedia.org/wiki/Paris_(France)", "", 23),
    ("voir https://exemple.fr/données/accès-été", "", 28),
    // Without a scheme it is text.
    ("data.gouv.fr", "", 12),
    // A remote mention counts its username only; a local one is text.
    ("@alice@mastodon.social", "", 6),
    ("merci @opendata_france@social.numerique.gouv.fr !", "", 24),
    ("@alice", "", 6),
    // An e-mail address is not a mention.
    ("contact@exemple.fr", "", 18),
    // The content warning counts too.
    ("hello", "CW: élections", 18),
];

#[test]
fn mastodon_counts_characters_with_links_as_23_and_remote_mentions_short() {
    for &(text, cw, chars) in MASTODON_CASES {
        assert_eq!(length::mastodon(text, cw).used, chars, "{text:?} / {cw:?}");
    }
}

/// Text of exactly `n` characters (ASCII words), ending with a letter.
fn words(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(if s.is_empty() { "mot" } else { " mot" });
    }
    s.truncate(n);
    while s.ends_with(' ') {
        s.pop();
        s.push('x');
    }
    s
}

#[test]
fn exact_limits_fit_and_one_more_splits() {
    // (network, text that fits exactly, the same plus one unit)
    let cases: Vec<(Network, String, String)> = vec![
        (Network::Mastodon, words(500), words(501)),
        (Network::Bluesky, words(300), words(301)),
        (Network::X, words(280), words(281)),
        // Graphemes, not code points nor bytes: 300 families are 300 graphemes but 7,500
        // bytes, over Bluesky's 3,000; 120 families are exactly 3,000 bytes.
        (Network::Bluesky, FAMILY.repeat(120), FAMILY.repeat(121)),
        (Network::Mastodon, FAMILY.repeat(500), FAMILY.repeat(501)),
        // CJK weighs 2 on X: 140 ideographs are 280.
        (Network::X, "語".repeat(140), "語".repeat(141)),
        (Network::X, FLAG_FR.repeat(140), FLAG_FR.repeat(141)),
        // A link counts 23 however long: 477 characters + a 120-character link = 500.
        (
            Network::Mastodon,
            format!("{} {LONG_URL}", words(476)),
            format!("{} {LONG_URL}", words(477)),
        ),
        (
            Network::X,
            format!("{} {LONG_URL}", words(256)),
            format!("{} {LONG_URL}", words(257)),
        ),
    ];
    for (network, fits, over) in cases {
        let posts = format(&fits, network);
        assert_eq!(
            posts.len(),
            1,
            "{network:?} should fit: {}",
            posts[0].measure.used
        );
        assert!(posts[0].measure.fits());
        let posts = format(&over, network);
        assert!(posts.len() >= 2, "{network:?} should split");
        for post in &posts {
            assert!(
                post.measure.fits(),
                "{network:?} post {} too long",
                post.index
            );
        }
    }
    assert_eq!(format(&words(500), Network::Mastodon)[0].measure.used, 500);
    assert_eq!(format(&words(300), Network::Bluesky)[0].measure.used, 300);
    assert_eq!(format(&words(280), Network::X)[0].measure.used, 280);
    assert_eq!(
        format(&FAMILY.repeat(120), Network::Bluesky)[0]
            .measure
            .bytes,
        3000
    );
    assert_eq!(format(&"語".repeat(140), Network::X)[0].measure.used, 280);
}

#[test]
fn mastodon_content_warning_shares_the_500() {
    let mut draft = Draft::new(words(490));
    draft.content_warning = Some("Élections".into()); // 9 characters
    draft.visibility = Visibility::Unlisted;
    let posts = format_draft(&draft, Network::Mastodon);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].measure.used, 499);
    draft.content_warning = Some("Élections!!".into()); // 11 characters: 501
    let posts = format_draft(&draft, Network::Mastodon);
    assert_eq!(posts.len(), 2);
    for post in &posts {
        assert_eq!(post.spoiler_text.as_deref(), Some("Élections!!"));
        assert_eq!(post.visibility, Some(Visibility::Unlisted));
        assert!(post.measure.fits());
    }
}

#[test]
fn facets_at_utf8_byte_offsets_in_accented_french_with_emoji() {
    // "Énergie" is 8 bytes (É is 2), then a space, 🎉 (4 bytes) and a space: the link starts at
    // byte 14, whereas it is at UTF-16 index 11 and code point 10.
    let text = "Énergie 🎉 https://a.fr #OpenData, merci @etalab.bsky.social !";
    let (facets, mentions) = facets::detect(text);
    let json = serde_json::to_value(&facets).expect("facets serialise");
    assert_eq!(
        json,
        serde_json::json!([
            {"index": {"byteStart": 14, "byteEnd": 26},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.fr"}]},
            {"index": {"byteStart": 27, "byteEnd": 36},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "OpenData"}]},
        ])
    );
    assert_eq!(&text[14..26], "https://a.fr");
    assert_eq!(&text[27..36], "#OpenData");
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0].handle, "etalab.bsky.social");
    let m = mentions[0].index;
    assert_eq!(&text[m.byte_start..m.byte_end], "@etalab.bsky.social");
    assert_eq!((m.byte_start, m.byte_end), (44, 63));
}

/// (text, expected facet texts and their feature): Bluesky's detection rules.
const DETECTION_CASES: &[(&str, &[(&str, &str)])] = &[
    // Trailing punctuation is not part of a link; a closing parenthesis only when unopened.
    (
        "(voir https://a.fr/x).",
        &[("https://a.fr/x", "link https://a.fr/x")],
    ),
    (
        "https://fr.wikipedia.org/wiki/Paris_(France)",
        &[(
            "https://fr.wikipedia.org/wiki/Paris_(France)",
            "link https://fr.wikipedia.org/wiki/Paris_(France)",
        )],
    ),
    // A bare domain with a known TLD is a link, with https:// added.
    (
        "sur data.gouv.fr aujourd'hui",
        &[("data.gouv.fr", "link https://data.gouv.fr")],
    ),
    ("fichier rapport.pdfx", &[]),
    // Hashtags: accents kept, trailing punctuation dropped, digits alone are not a tag.
    (
        "#donnéesOuvertes, #2024 et #JO2024!",
        &[
            ("#donnéesOuvertes", "tag donnéesOuvertes"),
            ("#JO2024", "tag JO2024"),
        ],
    ),
    ("prix#1 n'est pas un tag", &[]),
    // Full-width hash.
    (
        "＃オープンデータ",
        &[("＃オープンデータ", "tag オープンデータ")],
    ),
    // A mention must look like a domain.
    (
        "@alice et @bob.bsky.social",
        &[("@bob.bsky.social", "mention bob.bsky.social")],
    ),
    ("écrire à contact@exemple.fr", &[]),
];

#[test]
fn bluesky_detection_follows_the_reference_rules() {
    for &(text, expected) in DETECTION_CASES {
        let found: Vec<(&str, String)> = entities::detect(text)
            .into_iter()
            .map(|s| {
                let what = match s.entity {
                    entities::Entity::Link { uri } => format!("link {uri}"),
                    entities::Entity::Tag { tag } => format!("tag {tag}"),
                    entities::Entity::Mention { handle } => format!("mention {handle}"),
                };
                (&text[s.range], what)
            })
            .collect();
        let expected: Vec<(&str, String)> =
            expected.iter().map(|&(t, w)| (t, w.to_string())).collect();
        assert_eq!(found, expected, "{text:?}");
    }
}

#[test]
fn bluesky_shows_long_links_short_and_keeps_the_uri_in_the_facet() {
    let text = format!("Nouveau jeu 📦 : {LONG_URL} à découvrir.");
    let posts = format(&text, Network::Bluesky);
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(
        post.text,
        "Nouveau jeu 📦 : www.data.gouv.fr/fr/datasets/… à découvrir."
    );
    assert_eq!(post.facets.len(), 1);
    let f = &post.facets[0];
    assert_eq!(
        &post.text[f.index.byte_start..f.index.byte_end],
        "www.data.gouv.fr/fr/datasets/…"
    );
    assert_eq!(
        f.features,
        vec![FacetFeature::Link {
            uri: LONG_URL.to_string()
        }]
    );
    // Short links lose their scheme only; hosts with a hyphen or a port stay as written.
    assert_eq!(
        entities::display_form("https://a.fr/x").as_deref(),
        Some("a.fr/x")
    );
    for link in [
        "https://open-data.fr/un/chemin/assez/long",
        "http://localhost:8080/x",
    ] {
        assert_eq!(entities::display_form(link), None, "{link}");
    }
    let (shown, short) = entities::shorten_links_for_display("https://a.fr/un/chemin/assez/long");
    assert_eq!(shown, "a.fr/un/chemin/as…");
    assert_eq!(
        short,
        vec![ShortLink {
            display: "a.fr/un/chemin/as…".into(),
            uri: "https://a.fr/un/chemin/assez/long".into()
        }]
    );
}

#[test]
fn mentions_become_facets_once_resolved_by_the_connector() {
    let posts = format(
        "Bravo @etalab.bsky.social et @inconnu.bsky.social #OpenData",
        Network::Bluesky,
    );
    let post = &posts[0];
    assert_eq!(post.mentions.len(), 2);
    let facets = post.bluesky_facets(|handle| {
        (handle == "etalab.bsky.social").then(|| "did:plc:etalab123".to_string())
    });
    let json = serde_json::to_value(&facets).expect("serialise");
    assert_eq!(
        json,
        serde_json::json!([
            {"index": {"byteStart": 6, "byteEnd": 25},
             "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:etalab123"}]},
            {"index": {"byteStart": 50, "byteEnd": 59},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "OpenData"}]},
        ])
    );
}

/// The words of a text, in order, whitespace aside.
fn tokens(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// A thread's text without its numbering, as tokens.
fn thread_tokens(posts: &[Post]) -> Vec<String> {
    let mut all = Vec::new();
    for post in posts {
        let suffix = format!(" {}/{}", post.index, post.total);
        let body = if post.total > 1 {
            post.text
                .strip_suffix(&suffix)
                .unwrap_or_else(|| panic!("numbered: {:?}", post.text))
        } else {
            &post.text
        };
        all.extend(tokens(body).into_iter().map(str::to_string));
    }
    all
}

const NEWS: &str = "Le réseau des collectivités pour l'open data publie aujourd'hui son rapport annuel « Données ouvertes et territoires ». \
Il recense 312 jeux de données publiés par 48 collectivités, de Lyon à Saint-Denis. \
Le rapport est en ligne : https://www.opendatafrance.net/2026/11/rapport-annuel-donnees-ouvertes-territoires/?utm_source=passerelle ; \
les données sur https://www.data.gouv.fr/fr/datasets/inventaire-des-jeux-de-donnees-des-collectivites/. \
Merci à @etalab.bsky.social et à @opendata@social.numerique.gouv.fr pour leur soutien ! \
Prochaine rencontre le 12 mars à Bordeaux 🎉 #OpenData #DonnéesOuvertes #Collectivités";

#[test]
fn a_news_item_splits_into_numbered_posts_without_cutting_links_mentions_or_words() {
    for network in Network::ALL {
        for text in [NEWS.to_string(), NEWS.repeat(3)] {
            let posts = format(&text, network);
            let n = posts.len();
            for post in &posts {
                assert!(
                    post.measure.fits(),
                    "{network:?} {}: {:?}",
                    post.index,
                    post.measure
                );
                assert_eq!(post.total, n);
                if n > 1 {
                    assert!(
                        post.text.ends_with(&format!(" {}/{n}", post.index)),
                        "{:?}",
                        post.text
                    );
                }
            }
            // Nothing lost, nothing cut: the words of the thread are the words of the text
            // (Bluesky shows its links shorter).
            let expected = match network {
                Network::Bluesky => entities::shorten_links_for_display(&text).0,
                _ => text.clone(),
            };
            assert_eq!(thread_tokens(&posts), tokens(&expected), "{network:?}");
            if network == Network::Bluesky {
                let uris: Vec<String> = posts
                    .iter()
                    .flat_map(|p| p.facets.iter())
                    .flat_map(|f| f.features.iter())
                    .filter_map(|f| match f {
                        FacetFeature::Link { uri } => Some(uri.clone()),
                        _ => None,
                    })
                    .collect();
                assert!(
                    uris.iter().any(|u| u.ends_with("?utm_source=passerelle")),
                    "{uris:?}"
                );
                assert!(
                    uris.iter().any(|u| u.ends_with("-des-collectivites/")),
                    "{uris:?}"
                );
            }
        }
    }
}

#[test]
fn splits_at_sentence_boundaries_when_it_can() {
    let text = "Première phrase assez longue pour remplir un peu le message. ".repeat(12);
    for network in Network::ALL {
        let posts = format(&text, network);
        assert!(posts.len() > 1);
        for post in &posts {
            let body = post.text.rsplit_once(' ').expect("numbered").0;
            assert!(body.ends_with("message."), "{network:?}: {body:?}");
        }
    }
}

#[test]
fn a_sentence_longer_than_a_post_splits_between_words() {
    let sentence = format!(
        "{} https://exemple.fr/un/très/long/chemin?avec=des&paramètres=1 {} @alice.bsky.social {}",
        "donnée ".repeat(40),
        "ouverte ".repeat(30),
        "territoire ".repeat(30)
    );
    for network in Network::ALL {
        let posts = format(&sentence, network);
        assert!(posts.len() >= 2, "{network:?}");
        let expected = match network {
            Network::Bluesky => entities::shorten_links_for_display(&sentence).0,
            _ => sentence.clone(),
        };
        assert_eq!(thread_tokens(&posts), tokens(&expected), "{network:?}");
        for post in &posts {
            assert!(post.measure.fits());
        }
    }
}

#[test]
fn cjk_without_spaces_splits_between_ideographs_and_never_inside_a_link() {
    let text = format!(
        "{}https://例え.jp/データ{}",
        "日本語の文章".repeat(30),
        "東京都".repeat(40)
    );
    let posts = format(&text, Network::X);
    assert!(posts.len() >= 2);
    let joined: String = posts
        .iter()
        .map(|p| {
            p.text
                .strip_suffix(&format!(" {}/{}", p.index, p.total))
                .expect("numbered")
        })
        .collect();
    assert_eq!(joined, text);
    for post in &posts {
        assert!(post.measure.fits());
    }
}

#[test]
fn images_and_alt_text_go_with_the_first_post() {
    let mut draft = Draft::new(NEWS.repeat(2));
    draft.images = vec![Image {
        source: "media/carte.png".into(),
        alt: "Carte des 48 collectivités qui publient leurs données".into(),
    }];
    for network in Network::ALL {
        let posts = format_draft(&draft, network);
        assert!(posts.len() > 1);
        assert_eq!(posts[0].images, draft.images);
        assert!(posts[1..].iter().all(|p| p.images.is_empty()));
        let mastodon = network == Network::Mastodon;
        assert_eq!(posts[0].visibility.is_some(), mastodon);
    }
}

#[test]
fn text_is_posted_in_nfc() {
    let decomposed = "Donne\u{301}es ouvertes";
    for network in Network::ALL {
        let post = &format(decomposed, network)[0];
        assert_eq!(post.text, "Données ouvertes");
        assert_eq!(post.measure.bytes, "Données ouvertes".len());
    }
}

#[test]
fn numbering_counts_in_the_length_and_the_total_is_right_past_nine() {
    let text = "Une phrase de test pour le fil. ".repeat(100);
    let posts = format(&text, Network::X);
    assert!(posts.len() >= 10, "{}", posts.len());
    let n = posts.len();
    for post in &posts {
        assert!(post.text.ends_with(&format!(" {}/{n}", post.index)));
        assert!(post.measure.fits());
    }
    assert_eq!(thread_tokens(&posts), tokens(&text));
}

#[test]
fn empty_and_short_texts_are_one_post() {
    assert_eq!(format("", Network::X)[0].text, "");
    let p = &format("  Bonjour !  ", Network::Mastodon)[0];
    assert_eq!((p.text.as_str(), p.index, p.total), ("Bonjour !", 1, 1));
}
