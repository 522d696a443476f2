//! Formatting + length counting of one news item for Mastodon, Bluesky and X (issue 10 aims at
//! under 100 µs for the three). `cargo bench --bench social_format --no-default-features`.
//!
//! Two items: a short one that fits every network in one post, and a long one that becomes a
//! thread on each; plus the length counters alone on the short one.

use criterion::{Criterion, criterion_group, criterion_main};
use passerelle::core::social::{self, Network, length};
use std::hint::black_box;

const SHORT: &str = "Le réseau publie son rapport annuel « Données ouvertes et territoires » 🎉 \
https://www.opendatafrance.net/2026/11/rapport-annuel/ merci @etalab.bsky.social #OpenData";

const LONG: &str = "Le réseau des collectivités pour l'open data publie aujourd'hui son rapport annuel « Données ouvertes et territoires ». \
Il recense 312 jeux de données publiés par 48 collectivités, de Lyon à Saint-Denis. \
Le rapport est en ligne : https://www.opendatafrance.net/2026/11/rapport-annuel-donnees-ouvertes-territoires/?utm_source=passerelle ; \
les données sur https://www.data.gouv.fr/fr/datasets/inventaire-des-jeux-de-donnees-des-collectivites/. \
Merci à @etalab.bsky.social et à @opendata@social.numerique.gouv.fr pour leur soutien ! \
Prochaine rencontre le 12 mars à Bordeaux 🎉 #OpenData #DonnéesOuvertes #Collectivités";

fn three_networks(text: &str) -> usize {
    Network::ALL
        .iter()
        .map(|&n| social::format(black_box(text), n).len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("social_format");
    group.bench_function("short item, 3 networks", |b| {
        b.iter(|| three_networks(SHORT))
    });
    group.bench_function("long item (threads), 3 networks", |b| {
        b.iter(|| three_networks(LONG))
    });
    group.bench_function("length counting only, 3 networks", |b| {
        b.iter(|| {
            length::mastodon(black_box(SHORT), "").used
                + length::bluesky(black_box(SHORT)).used
                + length::x(black_box(SHORT)).used
        })
    });
    group.finish();
    println!(
        "posts: short {} / long {} (Mastodon + Bluesky + X)",
        three_networks(SHORT),
        three_networks(LONG)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
