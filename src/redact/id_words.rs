//! The words naming identity documents, one list: the key rule ([`super::patterns`]), the
//! prose rules ([`super::personal`]), their gates and the JSON key endings ([`super`]) are
//! made from it, so a word added here is read everywhere a key or a sentence may hold it.

/// How a word naming an identity document is read in prose, before the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prose {
    /// Not in prose: no check digits tell its number from a count. Only as a key, whatever
    /// the value (`passport_number=X1234567`).
    No,
    /// In prose in any case (`CPF 861…`, `aadhaar 2345…`), and as a key whatever the value.
    AnyCase,
    /// A phrase, in prose or as a key in any case, with the number's check (`National
    /// Insurance number: AB 12 34 56 C`: a key's value rule would stop at the last group).
    Phrase,
    /// In prose as written, in capitals (`SIN 046…`, not "sin"); as a key only as its whole
    /// last word (`applicant_sin=`, not `using=`) and with the number's check: short words
    /// that other words and languages use too (`sin` is Spanish for "without").
    Written,
    /// Another script, which no ASCII `\b` reads (`身份证号：`); in prose and as a key.
    Script,
}

/// A word naming an identity document: the one list the key rule, the prose rule, their gates
/// and the JSON key endings are made from.
pub(super) struct IdWord {
    /// How it is written, a regex (`steuer[_-]?id`): case-insensitive but for
    /// [`Prose::Written`] in prose.
    pub pattern: &'static str,
    /// What the gate looks for (ASCII case-insensitively; [`Prose::Written`] as written).
    pub gate: &'static [&'static str],
    /// What a JSON key naming it ends with, normalised (letters and digits, lower case); for
    /// [`Prose::Written`], what its last word is.
    pub endings: &'static [&'static str],
    pub kind: &'static str,
    pub prose: Prose,
}

const fn id(
    pattern: &'static str,
    gate: &'static [&'static str],
    endings: &'static [&'static str],
    kind: &'static str,
    prose: Prose,
) -> IdWord {
    IdWord {
        pattern,
        gate,
        endings,
        kind,
        prose,
    }
}

pub(super) const ID_WORDS: [IdWord; 23] = [
    id("ssn", &["ssn"], &["ssn"], "ssn", Prose::No),
    id(
        "social[_-]?security",
        &["social"],
        &["socialsecurity"],
        "ssn",
        Prose::No,
    ),
    id(
        "passport",
        &["passport"],
        &["passport"],
        "passport",
        Prose::No,
    ),
    id(
        "national[_-]?id",
        &["national"],
        &["nationalid"],
        "national_id",
        Prose::No,
    ),
    id("tax[_-]?id", &["tax"], &["taxid"], "tax_id", Prose::No),
    id(
        "driver'?s?[ _-]?licen[cs]e",
        &["licen"],
        &[
            "driverlicense",
            "driverslicense",
            "driverlicence",
            "driverslicence",
        ],
        "driver_license",
        Prose::No,
    ),
    id("cpf", &["cpf"], &["cpf"], "national_id", Prose::AnyCase),
    id("cnpj", &["cnpj"], &["cnpj"], "tax_id", Prose::No),
    id(
        "aadhaa?r",
        &["aadha"],
        &["aadhaar", "aadhar"],
        "national_id",
        Prose::AnyCase,
    ),
    id(
        "personnummer",
        &["personnummer"],
        &["personnummer"],
        "national_id",
        Prose::No,
    ),
    id(
        "codice[_-]?fiscale",
        &["codice"],
        &["codicefiscale"],
        "tax_id",
        Prose::No,
    ),
    id(
        "steuer[_-]?id|steueridentifikationsnummer",
        &["steuer"],
        &["steuerid", "steueridentifikationsnummer"],
        "tax_id",
        Prose::AnyCase,
    ),
    id(
        "national[ _-]?insurance(?:[ _-]?number)?",
        &["insurance"],
        &["nationalinsurance"],
        "national_id",
        Prose::Phrase,
    ),
    // A key's short form (`ni_number`): `ni` alone is in too many words to be read in prose.
    id(
        "ni[_-]?number",
        &["ni_number", "ni-number", "ninumber"],
        &["ninumber"],
        "national_id",
        Prose::No,
    ),
    id(
        "social[ _-]?insurance(?:[ _-]?number)?",
        &["insurance"],
        &["socialinsurance"],
        "national_id",
        Prose::Phrase,
    ),
    id(
        "s[ée]curit[ée][ _-]?sociale",
        &["sociale"],
        &["securitesociale"],
        "national_id",
        Prose::Phrase,
    ),
    id("SIN", &["SIN"], &["sin"], "national_id", Prose::Written),
    id("NIR", &["NIR"], &["nir"], "national_id", Prose::Written),
    id("DNI", &["DNI"], &["dni"], "national_id", Prose::Written),
    id("NIE", &["NIE"], &["nie"], "national_id", Prose::Written),
    id("NIF", &["NIF"], &["nif"], "tax_id", Prose::Written),
    id(
        "NINO|IdNr",
        &["NINO", "IdNr"],
        &["nino", "idnr"],
        "national_id",
        Prose::Written,
    ),
    id(
        "身份证|身份證",
        &["身份证", "身份證"],
        &[
            "身份证",
            "身份证号",
            "身份证号码",
            "身份證",
            "身份證號",
            "身份證號碼",
        ],
        "national_id",
        Prose::Script,
    ),
];

/// The [`ID_WORDS`] read so, as a regex alternation.
pub(super) fn id_pattern(prose: &[Prose]) -> String {
    let words: Vec<&str> = ID_WORDS
        .iter()
        .filter(|w| prose.contains(&w.prose))
        .map(|w| w.pattern)
        .collect();
    words.join("|")
}

/// The gate words of the [`ID_WORDS`] read so.
pub(super) fn id_gate_words(prose: &[Prose]) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for w in ID_WORDS.iter().filter(|w| prose.contains(&w.prose)) {
        for g in w.gate {
            if !words.contains(g) {
                words.push(g);
            }
        }
    }
    words
}
