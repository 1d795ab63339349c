"""Word lists of the false-hit guard (pure data, English).

Kept apart from the matching logic in ``_semantic.guard`` so both stay readable. Every list errs
on the side of precision: a word that often appears with another meaning (``right``, ``over``,
``light``) is left out, because a guard that rejects true paraphrases only costs recall, but one
that matches noise costs both.
"""

from __future__ import annotations

import re
from typing import Final


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATIONS: Final = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "nowhere",
        "neither",
        "nor",
        "without",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "wont",
        "wouldnt",
        "shouldnt",
        "couldnt",
        "hasnt",
        "havent",
        "hadnt",
        "mustnt",
        "neednt",
        "aint",
    }
)

# -- numbers --------------------------------------------------------------------------------------
NUMBER_WORDS: Final = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "dozen": 12,
    "half": 0.5,
    "twice": 2,
    "single": 1,
    "double": 2,
    "triple": 3,
    # "first" and "second" are left out: "first, install..." and "a second opinion" are not counts.
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
MULTIPLIER_WORDS: Final = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}
# Suffixes glued to a numeral: "10k", "5M", "2bn".
NUMBER_SUFFIXES: Final = {
    "k": 1_000,
    "K": 1_000,
    "M": 1_000_000,
    "B": 1_000_000_000,
    "bn": 1_000_000_000,
}
ORDINAL_SUFFIXES: Final = frozenset({"st", "nd", "rd", "th"})
# "one" is a pronoun after these words ("which one", "the one") or before "of" ("one of the").
ONE_AS_PRONOUN_BEFORE: Final = frozenset(
    {
        "which",
        "this",
        "that",
        "the",
        "each",
        "every",
        "any",
        "no",
        "some",
        "another",
        "a",
        "an",
        "new",
        "old",
        "other",
        "same",
        "next",
        "previous",
        "only",
        "right",
        "wrong",
    }
)
ONE_AS_PRONOUN_AFTER: Final = frozenset(
    {
        "of",
        "another",
        "by",
        "way",
        "go",
        "can",
        "should",
        "must",
        "may",
        "might",
        "could",
        "would",
        "will",
    }
)

# -- units: canonical name -> dimension -----------------------------------------------------------
UNIT_DIMENSIONS: Final = {
    "mile": "length",
    "kilometer": "length",
    "meter": "length",
    "centimeter": "length",
    "millimeter": "length",
    "inch": "length",
    "foot": "length",
    "yard": "length",
    "kilogram": "mass",
    "gram": "mass",
    "milligram": "mass",
    "pound": "mass",
    "ounce": "mass",
    "stone": "mass",
    "ton": "mass",
    "liter": "volume",
    "milliliter": "volume",
    "gallon": "volume",
    "quart": "volume",
    "pint": "volume",
    "cup": "volume",
    "tablespoon": "volume",
    "teaspoon": "volume",
    "celsius": "temperature",
    "fahrenheit": "temperature",
    "kelvin": "temperature",
    "degree": "temperature",
    "second": "time",
    "millisecond": "time",
    "minute": "time",
    "hour": "time",
    "day": "time",
    "week": "time",
    "month": "time",
    "year": "time",
    "decade": "time",
    "century": "time",
    "usd": "currency",
    "eur": "currency",
    "gbp": "currency",
    "jpy": "currency",
    "cny": "currency",
    "inr": "currency",
    "cad": "currency",
    "aud": "currency",
    "chf": "currency",
    "mxn": "currency",
    "btc": "currency",
    "rupee": "currency",
    "peso": "currency",
    "franc": "currency",
    "bit": "data",
    "byte": "data",
    "kilobyte": "data",
    "megabyte": "data",
    "gigabyte": "data",
    "terabyte": "data",
    "mph": "speed",
    "kph": "speed",
    "knot": "speed",
    "watt": "power",
    "kilowatt": "power",
    "horsepower": "power",
    "calorie": "energy",
    "joule": "energy",
    "kwh": "energy",
    "percent": "ratio",
    "acre": "area",
    "hectare": "area",
    "word": "text",
    "sentence": "text",
    "paragraph": "text",
    "line": "text",
    "page": "text",
    "bullet": "text",
    "character": "text",
    "token": "text",
    "stanza": "text",
    "verse": "text",
}
# Unit words recognised anywhere (lower-cased, plural folded by the caller).
UNIT_WORDS: Final = {
    "mile": "mile",
    "kilometer": "kilometer",
    "kilometre": "kilometer",
    "meter": "meter",
    "metre": "meter",
    "centimeter": "centimeter",
    "centimetre": "centimeter",
    "millimeter": "millimeter",
    "millimetre": "millimeter",
    "inch": "inch",
    "inches": "inch",
    "foot": "foot",
    "feet": "foot",
    "yard": "yard",
    "kilogram": "kilogram",
    "kilo": "kilogram",
    "gram": "gram",
    "milligram": "milligram",
    "pound": "pound",
    "ounce": "ounce",
    "ton": "ton",
    "tonne": "ton",
    "liter": "liter",
    "litre": "liter",
    "milliliter": "milliliter",
    "millilitre": "milliliter",
    "gallon": "gallon",
    "quart": "quart",
    "pint": "pint",
    "tablespoon": "tablespoon",
    "teaspoon": "teaspoon",
    "celsius": "celsius",
    "centigrade": "celsius",
    "fahrenheit": "fahrenheit",
    "kelvin": "kelvin",
    "millisecond": "millisecond",
    "minute": "minute",
    "hour": "hour",
    "week": "week",
    "decade": "decade",
    "century": "century",
    "centuries": "century",
    "dollar": "usd",
    "euro": "eur",
    "yen": "jpy",
    "yuan": "cny",
    "renminbi": "cny",
    "rupee": "rupee",
    "peso": "peso",
    "franc": "franc",
    "bitcoin": "btc",
    "byte": "byte",
    "kilobyte": "kilobyte",
    "megabyte": "megabyte",
    "gigabyte": "gigabyte",
    "terabyte": "terabyte",
    "mph": "mph",
    "kph": "kph",
    "kmh": "kph",
    "km/h": "kph",
    "knot": "knot",
    "watt": "watt",
    "kilowatt": "kilowatt",
    "horsepower": "horsepower",
    "calorie": "calorie",
    "kcal": "calorie",
    "joule": "joule",
    "kwh": "kwh",
    "percent": "percent",
    "percentage": "percent",
    "cup": "cup",
    # Abbreviations that mean nothing else.
    "km": "kilometer",
    "cm": "centimeter",
    "mm": "millimeter",
    "kg": "kilogram",
    "mg": "milligram",
    "ml": "milliliter",
    "lbs": "pound",
    "oz": "ounce",
    "kb": "kilobyte",
    "mb": "megabyte",
    "gb": "gigabyte",
    "tb": "terabyte",
    "acre": "acre",
    "hectare": "hectare",
}
# Words that are units only right after a number ("3 seconds" but "a second opinion", "a day").
UNIT_WORDS_AFTER_NUMBER: Final = {
    "second": "second",
    "sec": "second",
    "day": "day",
    "month": "month",
    "year": "year",
    "degree": "degree",
    "stone": "stone",
    "bit": "bit",
    "word": "word",
    "sentence": "sentence",
    "paragraph": "paragraph",
    "line": "line",
    "page": "page",
    "bullet": "bullet",
    "character": "character",
    "char": "character",
    "token": "token",
    "stanza": "stanza",
    "verse": "verse",
}
# Time units that count after "a"/"per" ("a day") and in the plural anywhere ("how many days").
TIME_UNITS: Final = frozenset({"second", "day", "month", "year"})
# Abbreviations recognised only right after a number (case-insensitive): "10 km", "5kg".
UNIT_ABBREVIATIONS: Final = {
    "km": "kilometer",
    "m": "meter",
    "cm": "centimeter",
    "mm": "millimeter",
    "mi": "mile",
    "in": "inch",
    "ft": "foot",
    "yd": "yard",
    "kg": "kilogram",
    "g": "gram",
    "mg": "milligram",
    "lb": "pound",
    "lbs": "pound",
    "oz": "ounce",
    "l": "liter",
    "ml": "milliliter",
    "gal": "gallon",
    "qt": "quart",
    "tbsp": "tablespoon",
    "tsp": "teaspoon",
    "c": "celsius",
    "f": "fahrenheit",
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "secs": "second",
    "ms": "millisecond",
    "wk": "week",
    "yr": "year",
    "yrs": "year",
    "kb": "kilobyte",
    "mb": "megabyte",
    "gb": "gigabyte",
    "tb": "terabyte",
    "kw": "kilowatt",
    "w": "watt",
    "hp": "horsepower",
    "cal": "calorie",
    "j": "joule",
    "kmh": "kph",
    "km/h": "kph",
}
# Upper-case currency codes, recognised anywhere.
CURRENCY_CODES: Final = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CNY", "INR", "CAD", "AUD", "CHF", "MXN", "BTC"}
)
CURRENCY_SYMBOLS: Final = {"$": "usd", "€": "eur", "£": "gbp", "¥": "jpy", "₹": "inr"}
# Plural forms that are not the singular plus "s"/"es".
IRREGULAR_SINGULAR: Final = {"feet": "foot", "inches": "inch", "centuries": "century"}

# -- opposite poles: group -> (words of pole "+", words of pole "-") ------------------------------
OPPOSITES: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    name: (_set(plus), _set(minus))
    for name, plus, minus in (
        (
            "extreme",
            (
                "largest biggest greatest highest tallest longest maximum max most heaviest "
                "maximize maximise"
            ),
            "smallest least lowest shortest minimum min fewest lightest tiniest minimize minimise",
        ),
        (
            "comparison",
            "more greater larger bigger higher above exceeds exceed",
            "less fewer smaller lower below",
        ),
        (
            "trend",
            (
                "increase increases increasing increased rise rises rising raise grow grows "
                "growing growth gain gains"
            ),
            (
                "decrease decreases decreasing decreased decline declines declining reduce "
                "reduces reducing reduction drop drops fall falls falling shrink shrinks"
            ),
        ),
        ("time", "before earlier prior", "after later"),
        ("order", "first beginning start", "last end final"),
        ("age", "oldest older", "youngest younger newest newer latest"),
        ("speed", "fast faster fastest quick quicker quickest", "slow slower slowest"),
        ("heat", "hot hotter hottest warm warmer warmest", "cold colder coldest cool cooler"),
        ("price", "cheap cheaper cheapest inexpensive affordable", "expensive costly pricey"),
        ("quality", "best better good", "worst worse bad"),
        (
            "merit",
            "pros advantages advantage benefits benefit",
            "cons disadvantages disadvantage drawbacks drawback downsides downside",
        ),
        ("trade", "buy buying bought purchase", "sell selling sold"),
        ("transfer", "import imports importing", "export exports exporting"),
        ("load", "upload uploads uploading", "download downloads downloading"),
        (
            "crypt",
            "encrypt encrypts encryption encrypting",
            "decrypt decrypts decryption decrypting",
        ),
        ("code", "encode encodes encoding", "decode decodes decoding"),
        ("direction", "input inputs", "output outputs"),
        ("switch", "enable enables enabling enabled", "disable disables disabling disabled"),
        ("install", "install installs installing", "uninstall uninstalls uninstalling"),
        ("edit", "add adds adding insert", "remove removes removing delete deletes deleting"),
        ("gate", "open opens opening", "close closes closing"),
        ("git", "push pushes pushing", "pull pulls pulling"),
        ("io", "read reads reading", "write writes writing"),
        ("message", "send sends sending", "receive receives receiving"),
        ("game", "win wins winning won winner", "lose loses losing lost loser"),
        ("truth", "true", "false"),
        ("sex", "male men man boys boy", "female women woman girls girl"),
        ("north", "north northern", "south southern"),
        ("east", "east eastern", "west western"),
        ("safety", "safe safely", "dangerous unsafe harmful toxic poisonous"),
        ("legal", "legal", "illegal"),
        ("possible", "possible", "impossible"),
        (
            "audience",
            "beginner beginners novice novices kids children child",
            "expert experts advanced professionals professional",
        ),
        ("register", "formal", "informal casual"),
        ("length", "long longer detailed lengthy", "short shorter brief concise"),
        (
            "sync",
            "sync synchronous synchronously blocking",
            "async asynchronous asynchronously nonblocking",
        ),
        ("case", "uppercase", "lowercase"),
        ("sort", "ascending", "descending"),
        ("daytime", "morning sunrise", "evening night sunset"),
        ("place", "inside internal indoor indoors", "outside external outdoor outdoors"),
        ("sum", "plus add addition sum", "minus subtract subtraction"),
        ("product", "multiply multiplied times product", "divide divided division quotient"),
        ("outcome", "success succeed succeeds successful", "failure fail fails failed"),
        ("decision", "accept accepts accepted approve", "reject rejects rejected deny"),
        ("sign", "positive", "negative"),
        ("health", "healthy", "unhealthy"),
        ("wealth", "rich richest wealthy", "poor poorest"),
        ("strength", "strong stronger strongest", "weak weaker weakest"),
        ("difficulty", "easy easier easiest simple", "difficult harder hardest complex"),
        ("feeling", "love loves", "hate hates"),
        ("permission", "allow allows allowed permit", "forbid forbids forbidden prohibit block"),
        ("inclusion", "include includes including", "exclude excludes excluding"),
        ("parity", "even", "odd"),
        ("wet", "wet", "dry"),
        ("season", "summer", "winter"),
        ("spring", "spring", "autumn fall"),
        ("server", "client", "server"),
        ("frontend", "frontend", "backend"),
        ("compress", "compress compression compressing", "decompress decompression"),
        ("login", "login", "logout"),
        ("lock", "lock locking", "unlock unlocking"),
        ("mount", "mount", "unmount"),
        ("zip", "zip", "unzip"),
        ("sleep", "asleep sleep", "awake wake"),
    )
}
# Question words that ask for different things; "what", "how" and "which" paraphrase each other.
QUESTION_WORDS: Final = frozenset({"who", "whom", "whose", "when", "where", "why"})

# Words after which a question word asks a question ("tell me when") rather than joining clauses
# ("a flag that, when set, ...").
QUESTION_LEADS: Final = frozenset(
    {"me", "us", "know", "explain", "tell", "ask", "wonder", "and", "or"}
)

# -- named things ---------------------------------------------------------------------------------
# Proper names often typed in lower case (languages, tools, platforms): treated as entities.
LOWERCASE_ENTITIES: Final = _set(
    "python java javascript typescript rust golang kotlin scala haskell perl php ruby swift "
    "c++ c# matlab fortran cobol bash powershell sql nosql graphql html css json yaml xml csv "
    "toml markdown latex postgres postgresql mysql sqlite redis cassandra mongodb kafka spark "
    "hadoop elasticsearch docker kubernetes linux windows macos ios android ubuntu debian "
    "vue angular svelte django flask fastapi nodejs numpy pandas "
    "pytorch tensorflow keras jax aws azure gcp chrome firefox safari "
    "english french spanish german italian portuguese chinese mandarin cantonese japanese "
    "korean russian arabic hindi bengali dutch swedish norwegian danish finnish polish "
    "turkish greek hebrew vietnamese thai indonesian ukrainian czech latin"
)
# Capitalised words that start sentences without naming anything; any other capitalised first word
# ("Gradio is ...", "France's capital") is kept as an entity.
SENTENCE_STARTERS: Final = _set(
    "a an the this that these those there here it its i me my we our you your he she they "
    "them their his her what which who whom whose when where why how whether if is are was "
    "were be been am do does did can could should would will shall may might must has have "
    "had please give tell write explain describe list name convert translate summarize "
    "summarise calculate compute find show make create generate compare define draft suggest "
    "recommend help provide check fix implement build design plan outline rewrite rephrase "
    "paraphrase count sort solve evaluate estimate identify classify determine let lets "
    "and or but so yet for in on at to from by with about of as into over under after "
    "before during since until while although though because also then now today "
    "yes no not never always often sometimes all any each every some many much most more "
    "few several other another such only just even still again one two three is "
    "hello hi hey thanks thank dear ok okay sure well note see use using get set run go "
    "say said answer question task instructions instruction input output example step "
    "first second next finally however therefore meanwhile instead"
)
# "convert X to Y", "from X to Y": words that make a following "to"/"into" a direction.
FLOW_TRIGGERS: Final = _set(
    "from convert converting conversion turn turning change changing cast casting switch "
    "switching migrate migrating migration translate translating translation move moving "
    "copy copying transfer transferring port porting upgrade upgrading downgrade map fly "
    "flight drive travel"
)
# Words that never stand for the X or Y of a flow.
FLOW_SKIP: Final = _set(
    "a an the this that these those my your our their his her its some any all each every "
    "from to into in on at of by for with and or it them me you us how do does did i can "
    "could should would will what which is are was were be get go convert turn change cast "
    "switch migrate translate move copy transfer port upgrade downgrade map fly drive travel "
    "please"
)
# Spellings of one name folded together (lower case -> canonical).
ALIASES: Final = {
    "javascript": "js",
    "typescript": "ts",
    "postgresql": "postgres",
    "golang": "go",
    "nodejs": "node",
    "k8s": "kubernetes",
    "usa": "us",
    "llms": "llm",
    "uk": "britain",
}
# Multi-word names folded into one token before matching (matched case-insensitively).
PHRASE_ABBREVIATIONS: Final = {
    "machine learning": "ML",
    "artificial intelligence": "AI",
    "natural language processing": "NLP",
    "large language model": "LLM",
    "large language models": "LLMs",
    "united states": "US",
    "united kingdom": "UK",
    "new york": "NewYork",
    "british pound": "GBP",
    "british pounds": "GBP",
    "pounds sterling": "GBP",
    "pound sterling": "GBP",
    "hugging face": "HuggingFace",
}
PHRASES: Final = re.compile(
    r"\b(?:"
    + "|".join(sorted(map(re.escape, PHRASE_ABBREVIATIONS), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)

# -- beyond English -------------------------------------------------------------------------------
# The checks that do not depend on the language (numbers, units and their conversion direction,
# the order of compared names) need a few words of each language to find what they compare: unit
# names, "how many" and "than". German, French and Spanish are covered; in other languages digits,
# symbols (%, €, °) and abbreviations after a number ("5 km") still count.
UNIT_WORDS_OTHER_LANGUAGES: Final = {
    # German (nouns are capitalised, compared in lower case)
    "meile": "mile",
    "meilen": "mile",
    "zentimeter": "centimeter",
    "millimeter": "millimeter",
    "kilogramm": "kilogram",
    "gramm": "gram",
    "milligramm": "milligram",
    "pfund": "pound",
    "unze": "ounce",
    "unzen": "ounce",
    "stunde": "hour",
    "stunden": "hour",
    "minuten": "minute",
    "sekunde": "second",
    "sekunden": "second",
    "woche": "week",
    "wochen": "week",
    "prozent": "percent",
    "kalorien": "calorie",
    # French
    "kilomètre": "kilometer",
    "mètre": "meter",
    "centimètre": "centimeter",
    "millimètre": "millimeter",
    "kilogramme": "kilogram",
    "gramme": "gram",
    "milligramme": "milligram",
    "heure": "hour",
    "seconde": "second",
    "semaine": "week",
    "pourcent": "percent",
    # Spanish
    "milla": "mile",
    "kilómetro": "kilometer",
    "centímetro": "centimeter",
    "milímetro": "millimeter",
    "kilogramo": "kilogram",
    "gramo": "gram",
    "miligramo": "milligram",
    "libra": "pound",
    "onza": "ounce",
    "litro": "liter",
    "minuto": "minute",
    "segundo": "second",
    "semana": "week",
    "caloría": "calorie",
}
# Units only right after a number in these languages ("Grad" is also "degree" of anything).
UNIT_WORDS_AFTER_NUMBER_OTHER_LANGUAGES: Final = {
    "grad": "degree",
    "degré": "degree",
    "grado": "degree",
    "metro": "meter",
    "jour": "day",
    "tag": "day",
    "tage": "day",
    "tagen": "day",
    "día": "day",
    "jahr": "year",
    "jahre": "year",
    "jahren": "year",
    "année": "year",
    "año": "year",
    "monat": "month",
    "monate": "month",
    "monaten": "month",
    "mes": "month",
    "meses": "month",
    "mois": "month",
}
# "How many" before a unit makes it the target of a conversion ("wie viele Kilometer sind ...").
HOW_MANY_PAIRS: Final = frozenset(
    {
        ("how", "many"),
        ("how", "much"),
        ("what", "many"),
        ("what", "much"),
        ("wie", "viele"),
        ("wie", "viel"),
        ("combien", "de"),
        ("combien", "d"),
    }
)
HOW_MANY_WORDS: Final = frozenset({"cuántos", "cuántas", "cuánto", "cuánta", "cuantos", "cuantas"})
# The word of a comparison after which the order of the compared names matters.
COMPARISON_WORDS: Final = frozenset({"than", "als", "que"})
NEGATIONS_OTHER_LANGUAGES: Final = _set(
    "nicht kein keine keinen keinem keiner keines nie niemals ohne "
    "pas jamais sans aucun aucune "
    "nunca jamás ningún ninguna ninguno tampoco"
)
