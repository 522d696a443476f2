use super::*;

#[test]
fn smoke() {
    for n in Network::ALL {
        let posts = format(
            "Énergie 🎉 https://a.fr #OpenData. Merci @etalab.bsky.social et @bob@mastodon.social ! Voir https://www.data.gouv.fr/fr/datasets/base-adresse-nationale/?x=1 « l’open data »",
            n,
        );
        println!("{}", serde_json::to_string_pretty(&posts).unwrap());
    }
    let long = "Le réseau publie ses données. ".repeat(30);
    for n in Network::ALL {
        for p in format(&long, n) {
            println!("{:?} {} {:?}", n, p.text, p.measure);
        }
    }
}
