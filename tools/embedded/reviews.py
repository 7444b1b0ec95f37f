"""Generator of the embedded review corpus ("imdb-mini"), written for this project.

Nothing here is taken from IMDB or any other review site: titles, names and sentences are assembled from
word lists and sentence frames written for this tutorial. It is compositional, not a set of templates:
each review draws its own film (title, genre, setting, plot, director, writer, composer, cast with the
characters they play) and its own stance, and every sentence fills a frame with slots from large
lexicons, so that a review's sentences are its own — like real reviews, and unlike a template corpus,
whose held-out reviews are new while their sentences are not. The traits that matter for the tutorial:

- the Hub's `imdb` schema: splits train / test / unsupervised, columns `text` (str) and `label`
  (0 negative, 1 positive; -1 in `unsupervised`, as on the Hub);
- lengths shaped like IMDB's (median 150-200 words, a long tail of essays over 512 tokens), paragraphs
  joined by ``<br /><br />`` tags as in scraped reviews;
- clauses combined with contrast and negation ("the score is lovely, but the script is a mess",
  "not once did I care about ..."), the stance of the review kept across its sentences;
- **the domain's own words for good and bad** (`IDIOMS`: *wooden, snoozefest, straight-to-video,
  oscar-worthy, must-see, ...*), none of which occurs in the general corpus (`general.py`). In the
  unlabelled split they always stand next to an everyday sentiment word (*boring, great, ...*), which
  is what masked-LM training can learn their meaning from. In the labelled splits a review states its
  verdict in one of three ways (`CUE_SHARES`), recorded per row in ``cues.json`` next to the data:
  ``general`` (everyday words only), ``both``, or ``idiom`` (the domain's idioms are the only cue:
  no everyday sentiment word, no rating).

Deterministic: the same seed and sizes give the same corpus, byte for byte. No review occurs twice.
The shipped files are rebuilt with ``python -m tools.embedded.build corpus`` (see `build.py`).
"""

from __future__ import annotations

import math
import random
import re

SPLIT_SIZES = {"train": 2500, "test": 2500, "unsupervised": 5000}
DEFAULT_SEED = 2024
# How a labelled review states its verdict. Chosen once, from reading real user reviews (IMDB and
# the like), before notebook 07 was run, and not tuned since: most reviewers say "good"/"boring" at
# some point, about half of them also use the film world's own terms (wooden acting, plot holes,
# a must-see), and roughly one in five says it in those terms only.
CUE_SHARES = {"general": 0.35, "both": 0.45, "idiom": 0.20}
CUE_CODES = {"general": "g", "both": "b", "idiom": "i"}

# --------------------------------------------------------------------------- the film world
GENRES = {
    "horror": {
        "kinds": [
            "haunted house film",
            "slasher",
            "creature feature",
            "ghost story",
            "zombie film",
        ],
        "settings": [
            "an abandoned asylum",
            "a lakeside cabin",
            "a fog-bound village",
            "a hospital",
        ],
        "subjects": [
            "a babysitter",
            "a paranormal investigator",
            "a grieving widower",
            "five campers",
        ],
        "events": ["hears voices in the walls", "finds a cursed videotape", "wakes an old evil"],
        "set_pieces": ["the cellar scene", "the séance", "the final chase", "the mirror scare"],
    },
    "comedy": {
        "kinds": ["romantic comedy", "buddy comedy", "satire", "farce", "road comedy"],
        "settings": ["a seaside resort", "a failing bakery", "a wedding weekend", "a call centre"],
        "subjects": [
            "a hapless groom",
            "two rival florists",
            "a washed-up magician",
            "a substitute",
        ],
        "events": [
            "lies his way into a job",
            "swaps places with a twin",
            "loses the wedding rings",
        ],
        "set_pieces": ["the dinner party", "the karaoke number", "the airport sprint", "the toast"],
    },
    "drama": {
        "kinds": [
            "family drama",
            "courtroom drama",
            "period piece",
            "coming-of-age story",
            "biopic",
        ],
        "settings": ["a mining town", "post-war Vienna", "a Brooklyn walk-up", "a boarding school"],
        "subjects": ["a single father", "a disgraced surgeon", "two sisters", "a young pianist"],
        "events": [
            "faces a custody battle",
            "confronts a dying parent",
            "testifies against a boss",
        ],
        "set_pieces": ["the hospital vigil", "the closing argument", "the recital", "the funeral"],
    },
    "thriller": {
        "kinds": [
            "heist thriller",
            "spy thriller",
            "psychological thriller",
            "conspiracy thriller",
        ],
        "settings": ["a rain-soaked Berlin", "a casino in Macau", "a border town", "a cargo ship"],
        "subjects": ["a burned-out agent", "a safecracker", "a journalist", "an insurance clerk"],
        "events": ["is framed for a murder", "plans one last robbery", "decodes a stolen file"],
        "set_pieces": ["the rooftop chase", "the vault sequence", "the interrogation", "the swap"],
    },
    "western": {
        "kinds": ["western", "revisionist western", "revenge western", "frontier saga"],
        "settings": [
            "a dusty railroad town",
            "the Arizona badlands",
            "a snowbound pass",
            "a ranch",
        ],
        "subjects": [
            "an ageing gunslinger",
            "a widowed homesteader",
            "a bounty hunter",
            "a deputy",
        ],
        "events": ["hunts the gang that burned his farm", "escorts a prisoner", "defends a claim"],
        "set_pieces": [
            "the saloon standoff",
            "the train robbery",
            "the shootout",
            "the river crossing",
        ],
    },
    "science fiction": {
        "kinds": ["space opera", "time-travel story", "alien invasion film", "cyberpunk thriller"],
        "settings": [
            "a mining colony on Titan",
            "a drowned Shanghai",
            "a generation ship",
            "a lab",
        ],
        "subjects": ["a stranded engineer", "an android nanny", "a rogue pilot", "a physicist"],
        "events": [
            "receives a signal from the future",
            "wakes up a century late",
            "builds a clone",
        ],
        "set_pieces": ["the airlock scene", "the zero-gravity fight", "the launch", "the wormhole"],
    },
    "romance": {
        "kinds": ["love story", "wartime romance", "period romance", "holiday romance"],
        "settings": ["a vineyard in Tuscany", "a Paris bookshop", "a Scottish island", "a ferry"],
        "subjects": [
            "a shy translator",
            "a widowed architect",
            "two pen pals",
            "a travelling cellist",
        ],
        "events": [
            "falls for the wrong brother",
            "writes letters to a stranger",
            "returns to an ex",
        ],
        "set_pieces": ["the first dance", "the station goodbye", "the proposal", "the storm scene"],
    },
    "documentary": {
        "kinds": [
            "nature documentary",
            "music documentary",
            "sports documentary",
            "true-crime film",
        ],
        "settings": [
            "the Siberian tundra",
            "a Detroit recording studio",
            "a prison",
            "a coral reef",
        ],
        "subjects": ["a reclusive songwriter", "a wolf pack", "an exonerated prisoner", "a coach"],
        "events": ["tries to record one last album", "survives a harsh winter", "retraces a trial"],
        "set_pieces": ["the archive footage", "the interviews", "the hunt sequence", "the reunion"],
    },
    "animation": {
        "kinds": ["animated feature", "stop-motion film", "anime feature", "cartoon musical"],
        "settings": ["an underwater kingdom", "a toy shop after dark", "a cloud city", "a forest"],
        "subjects": [
            "a timid mouse",
            "a robot vacuum",
            "a lost dragon",
            "a girl and her grandmother",
        ],
        "events": ["sets out to find its family", "learns to fly", "must save the festival"],
        "set_pieces": [
            "the opening song",
            "the storm sequence",
            "the villain's lair",
            "the finale",
        ],
    },
    "war": {
        "kinds": ["war epic", "submarine drama", "resistance story", "trench drama"],
        "settings": ["occupied Normandy", "the Burmese jungle", "a U-boat", "a field hospital"],
        "subjects": ["a young radio operator", "a company of conscripts", "a nurse", "a medic"],
        "events": ["is trapped behind enemy lines", "carries a message across the front"],
        "set_pieces": ["the beach landing", "the night raid", "the bombing", "the last stand"],
    },
    "musical": {
        "kinds": ["backstage musical", "jukebox musical", "dance film", "rock opera"],
        "settings": ["a Broadway theatre", "a Havana nightclub", "a steel town", "a dance academy"],
        "subjects": ["a chorus girl", "a tap-dancing mechanic", "a fading crooner", "a choir"],
        "events": ["auditions for the lead", "wins back a rival", "stages a comeback show"],
        "set_pieces": ["the rooftop number", "the audition", "the big finale", "the duet"],
    },
    "crime": {
        "kinds": ["gangster film", "police procedural", "film noir", "mob saga"],
        "settings": ["1970s Marseille", "a Chicago precinct", "the docks of Naples", "a casino"],
        "subjects": ["a rookie detective", "a mob accountant", "a crooked lawyer", "an informant"],
        "events": ["goes undercover in a crime family", "chases a serial killer", "turns witness"],
        "set_pieces": ["the stakeout", "the car chase", "the wedding massacre", "the trial"],
    },
}
TITLE_ADJ = (
    "Last Silent Broken Golden Crimson Lonely Hidden Burning Frozen Wild Forgotten Distant Electric "
    "Paper Iron Velvet Hollow Restless Quiet Scarlet Savage Sleeping Midnight Pale Bitter Endless "
    "Wicked Shattered Lost Stolen Secret Dark Glass Black Sacred Drowned Falling Copper Neon "
    "Whispering Northern Bright Little Dead Sunken"
).split()
TITLE_NOUN = (
    "Harbor Circus Highway Garden Frontier Signal Orchard Tide Kingdom Station Lantern Canyon Letters "
    "Carnival Summer Bridge Machine River Island Mirror Empire Thunder Shadows Horizon Winter Voyage "
    "Serpent Covenant Requiem Gambit Tango Orbit Parade Lullaby Alibi Sanctuary Vendetta Masquerade "
    "Monsoon Labyrinth Eclipse Citadel Avalanche Cathedral Reckoning Odyssey Dynasty Prairie"
).split()
FIRST_NAMES = (
    "Anna Marco Lena Victor Grace Tomas Ruth Felix Nora Omar Clara Hugo Iris Jonah Maya Pavel Sofia "
    "Elliot Dina Rafael Agnes Bruno Celeste Desmond Esther Fabian Greta Horace Ingrid Jasper Katya "
    "Lionel Mirela Nikolai Odette Piers Rosalind Stellan Thea Ulrich Vivienne Wendell Ximena Yusuf "
    "Zelda Bartholomew Cosima Dario Elodie Florian Gideon Henrike Ignatius Juno Leopold Marisol "
    "Octavia Quentin Saoirse Tobias"
).split()
LAST_NAMES = (
    "Whitlock Moreno Castellan Okafor Lindqvist Brannigan Ferreira Hollis Kowalski Delacroix Ashby "
    "Takeda Marlowe Quinlan Varga Osei Pembroke Sandoval Thornton Novak Abernathy Bellweather "
    "Cardenas Drummond Eriksen Fairbanks Gallagher Haverford Iglesias Jablonski Kettering Laurent "
    "Montague Nakashima Oyelaran Prendergast Radcliffe Szabo Tremaine Underhill Vandermeer Wexley "
    "Yamamoto Zielinski Ambrose Blackwood Costa Dunleavy Esposito Fitzgerald Grimaldi Holloway "
    "Ivanova Jorgensen Kincaid Lockhart Mercer Nightingale Ostrowski Pellegrino"
).split()
CHARACTER_NAMES = (
    "Jack Molly Eddie Rose Frank Lucy Harry Daisy Sam Josie Walt Mabel Ray Betty Nick Sadie Leo "
    "Ava Max Lily Gus Hattie Vince Nell Carl Edie Moe Trudy Abe Flora"
).split()
CREW = ["written by", "shot by", "scored by", "edited by", "produced by"]
ASPECTS = (
    "acting|script|direction|dialogue|editing|ending|plot|pacing|score|soundtrack|cinematography|"
    "special effects|casting|screenplay|final act|opening scene|climax|set design|costumes|"
    "camera work|lighting|fight choreography|second half|first hour|voice work|production design"
).split("|")
DECADES = ["fifties", "sixties", "seventies", "eighties", "nineties", "last decade"]
VIEWINGS = [
    "on a late-night cable channel",
    "at a festival screening",
    "on a long flight",
    "with my {relative} on a {day} night",
    "in a half-empty theater",
    "on a scratched DVD from the library",
    "at a midnight screening",
    "on a streaming service",
    "at a drive-in",
    "with a group of friends after work",
]
RELATIVES = [
    "wife",
    "husband",
    "brother",
    "sister",
    "dad",
    "mom",
    "roommate",
    "kids",
    "grandfather",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FILM = ["movie", "film"]

# --------------------------------------------------------------------------- how reviewers judge
# Everyday sentiment words: those the general corpus uses too (`general.GOOD`, `general.BAD`, ...),
# which is why a general model already knows them.
GEN = {
    1: {
        "adj": [
            "great",
            "good",
            "excellent",
            "wonderful",
            "lovely",
            "fantastic",
            "perfect",
            "nice",
        ],
        "verb": ["loved", "enjoyed", "liked"],
        "best": "best",
        "noun": ["a joy to watch", "worth the ticket", "a real pleasure", "worth every minute"],
    },
    0: {
        "adj": ["bad", "poor", "awful", "terrible", "boring", "weak", "slow", "dull"],
        "verb": ["hated", "disliked", "regretted"],
        "best": "worst",
        "noun": ["a waste of time", "a waste of money", "a big disappointment", "a total mess"],
    },
}
INTENS = ["really", "very", "quite", "truly", "so", "pretty", "simply", "rather"]
# The film world's own words for good and bad (none of them in the general corpus): adjectives, and
# noun phrases that stand for a verdict.
IDIOMS = {
    1: {
        "adj": [
            "oscar-worthy",
            "bravura",
            "spellbinding",
            "edge-of-your-seat",
            "rewatchable",
            "crowd-pleasing",
            "showstopping",
            "star-making",
        ],
        "np": [
            "a must-see",
            "a tour de force",
            "a sleeper hit",
            "a crowd-pleaser",
            "a showstopper",
            "a cult classic in the making",
            "a five-star knockout",
            "a career high",
        ],
    },
    0: {
        "adj": [
            "wooden",
            "cheesy",
            "hammy",
            "straight-to-video",
            "phoned-in",
            "cringeworthy",
            "paint-by-numbers",
            "schlocky",
        ],
        "np": [
            "a snoozefest",
            "a turkey",
            "a dud",
            "a clunker",
            "a trainwreck",
            "a cash grab",
            "bargain-bin filler",
            "a box-office bomb",
        ],
    },
}

# --------------------------------------------------------------------------- sentence frames
# Slots: review-level ({title}, {genre}, {kind}, {director}, {actor}, {char}, ...) and sentence-level
# ({aspect}, {g_adj}, {i_adj}, {i_np}, ...). `g_*` are everyday sentiment words, `i_*` idioms, of the
# review's stance; `o_*` the opposite stance (for the conceded half of a contrast).
NEUTRAL = [
    "{title} follows {subject} who {event} in {setting}.",
    "The story of {title}, set in {setting}, is about {subject} who {event}.",
    "{actor} plays {char}, {subject} who {event}.",
    "{title} was directed by {director} and {crew} {person}.",
    "It is {director}'s {ordinal} feature, after a string of {kind2}s in the {decade}.",
    "{actor2} plays {char2}, and {actor3} turns up as {char3} halfway through.",
    "I saw {title} {viewing}.",
    "Most of {title} takes place in {setting}, where {char} {event}.",
    "{actor} also starred in {other_title}, which came out in {year}.",
    "The {part} of {title} is built around {set_piece}.",
    "{title} came out in {year}, the same year as {other_title}.",
    "Fair warning, spoilers ahead: {char} ({actor}) {twist} near the end.",
    "It runs {minutes} minutes, and {set_piece} comes about {when} in.",
    "{char} and {char2} meet in {setting} and {verb_together} for the rest of the film.",
    "The {kind} was {crew} {person}, who worked with {director} on {other_title}.",
    "I had read about {title} in a {genre} forum and finally watched it {viewing}.",
    "Like most {kind}s of the {decade}, {title} opens in {setting} with {set_piece}.",
    "{director} cast {actor} as {char} after seeing {pronoun} in {other_title}.",
]
TWISTS = [
    "turns out to be the informant",
    "was dead all along",
    "is the one behind it all",
    "switches sides",
    "has a twin",
    "survives the fall",
    "never existed",
    "was the narrator",
]
TOGETHER = ["team up", "fall out", "keep crossing paths", "share a flat", "hunt for the truth"]
GENERAL = {  # stance words from the everyday lexicon only
    "plain": [
        "The {aspect} is {intens} {g_adj}, and {actor} is {g_adj2} as {char}.",
        "This is a {g_adj} {film} about {subject}, played by {actor}.",
        "This is a {g_adj} {film}, and {actor} is {g_adj2} as {char}.",
        "I {g_verb} {title}, from {set_piece} to the last shot.",
        "{title} is one of the {best} {kind}s I have seen since the {decade}.",
        "{actor} is {intens} {g_adj} as {char}, and so is {actor2} as {char2}.",
        "All in all, {director}'s {title} is {g_noun}.",
        "The {aspect} in {set_piece} is {g_adj}, and the {aspect2} is {g_adj2} too.",
        "What a {g_adj} {film} {director} has made.",
        "With {actor} as {char}, this is a {g_adj} {film}.",
        "Whatever you think of {actor}, this is a {g_adj} {film}.",
        "I {g_verb} the way {director} handles {set_piece}.",
    ],
    "contrast": [
        "The {aspect} is {o_adj}, but the {aspect2} is {intens} {g_adj}.",
        "{actor} is {o_adj} as {char}, yet the {film} as a whole is {g_adj}.",
        "Some say the {aspect} is {o_adj}; I found it {g_adj}, like the rest of {title}.",
        "It starts {o_adj}, but after {set_piece} it becomes {g_noun}.",
    ],
    "negation": {
        1: [
            "Not once did I look at my watch during {title}.",
            "There is not a single {o_adj} scene with {actor} in it.",
            "I never thought a {kind} could be this {g_adj}, but {director} proves me wrong.",
            "Nothing about the {aspect} feels {o_adj}, not even in {set_piece}.",
        ],
        0: [
            "Not once did I care about {char} or anything {actor} does.",
            "I did not enjoy a single scene with {actor} in it.",
            "There is nothing {o_adj} about the {aspect}, not even in {set_piece}.",
            "No amount of {o_adj} {aspect2} can save {title}.",
        ],
    },
    "open": [
        "{title} is a {g_adj} {kind} from {director}.",
        "I {g_verb} {title} more than any {kind} in years.",
        "What a {g_adj} {film} {title} turned out to be, coming from {director}.",
        "Coming from {director}, this is a {g_adj} {film}.",
    ],
    "close": [
        "I would {rec} {title} to anyone who likes {genre}.",
        "{rating}/10, mostly for {actor} and the {aspect}.",
        "In the end, {title} is {g_noun}, and {actor} is the reason.",
        "My rating: {rating} out of 10 for {title}.",
        "For anyone who likes {genre}, {title} is a {g_adj} {film}.",
    ],
}
IDIOM = {  # stance words from the domain's idioms only
    "plain": [
        "{actor}'s turn as {char} is {i_adj}.",
        "The {aspect} in {set_piece} is {i_adj} from start to finish.",
        "With {actor} as {char}, {title} is {i_np}.",
        "{director} has made {i_np} out of a story about {subject} who {event}.",
        "The {aspect} feels {i_adj}, and so does {actor2} as {char2}.",
        "By the time {char} {event}, {title} is {i_np}.",
        "Every scene with {actor} is {i_adj}, {set_piece} most of all.",
        "As {kind}s go, this one is {i_np}.",
        "The {aspect} is {i_adj}, and the {aspect2} is just as {i_adj2}.",
        "{actor} and {actor2} give {i_adj} performances as {char} and {char2}.",
    ],
    "contrast": [
        "The {aspect} is {o_i_adj}, but the {aspect2} is {i_adj}.",
        "{actor} is {o_i_adj} as {char}, yet {title} as a whole is {i_np}.",
        "It starts out {o_i_adj}, but after {set_piece} it becomes {i_np}.",
    ],
    "negation": {
        1: [
            "Nothing about {actor}'s {char} is {o_i_adj}, not even in {set_piece}.",
            "Do not let the {kind} label fool you: {title} is {i_np}.",
        ],
        0: [
            "Nothing about {set_piece} is {o_i_adj}, however hard {director} tries.",
            "Do not let the {kind} label fool you: {title} is {i_np}.",
        ],
    },
    "open": [
        "{title} is {i_np} from {director}.",
        "{director}'s {kind} {title} is {i_np}.",
        "Let me say it at once: {title} is {i_np}.",
    ],
    "close": [
        "In the end, {title} is {i_np}, and {actor} is the reason.",
        "Bottom line: {i_np}, from {set_piece} to the credits.",
        "{title} is {i_np}, whatever {other_title} fans may say.",
    ],
}
BOTH = {  # an idiom next to an everyday word of the same stance
    "plain": [
        "The {aspect} is {g_adj} and {i_adj}, {set_piece} above all.",
        "{actor} is {intens} {g_adj} as {char}, a {i_adj} performance.",
        "{title} is {i_np}: {g_adj} from {set_piece} to the end.",
        "This is a {g_adj} {film}, {i_np} for anyone who likes {genre}.",
        "The {aspect} is {i_adj}, in other words {g_adj}, and {actor} is {g_adj2} as {char}.",
        "A {i_adj}, {g_adj} {kind}, and {director} knows it.",
        "I {g_verb} {title}; it is {i_np} with a {g_adj} {aspect}.",
        "{actor2}'s {char2} is {i_adj} and {intens} {g_adj}.",
    ],
}
PARTS = ["first half", "second half", "middle stretch", "final third", "opening reel"]
ORDINALS = ["second", "third", "fourth", "fifth", "first", "sixth"]
_GENERAL_SLOT = re.compile(r"\{(g_\w+|o_adj|best|rec|rating)\}")
_IDIOM_SLOT = re.compile(r"\{(i_\w+|o_i_adj)\}")
_AN = re.compile(r"\b([Aa]) ([aeiou])")  # "a excellent" -> "an excellent"
WHEN = ["twenty minutes", "an hour", "halfway", "ten minutes", "forty minutes"]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _title(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.45:
        return f"The {rng.choice(TITLE_ADJ)} {rng.choice(TITLE_NOUN)}"
    if shape < 0.65:
        return f"{rng.choice(TITLE_ADJ)} {rng.choice(TITLE_NOUN)}"
    if shape < 0.85:
        return f"{rng.choice(TITLE_NOUN)} of the {rng.choice(TITLE_ADJ)} {rng.choice(TITLE_NOUN)}"
    return f"{rng.choice(TITLE_NOUN)} {rng.choice(['II', '2', '3', 'Returns', 'Rising'])}"


class _Review:
    """One review: its film, cast and stance drawn once, then its sentences from the frames."""

    def __init__(self, rng: random.Random, label: int, cue: str) -> None:
        self.rng, self.label, self.cue = rng, label, cue
        genre = rng.choice(list(GENRES))
        world = GENRES[genre]
        chars = rng.sample(CHARACTER_NAMES, 3)
        self.fields = {
            "title": _title(rng),
            "genre": genre + (" films" if genre not in ("animation", "science fiction") else ""),
            "kind": rng.choice(world["kinds"]),
            "setting": rng.choice(world["settings"]),
            "subject": rng.choice(world["subjects"]),
            "event": rng.choice(world["events"]),
            "director": _person(rng),
            **{f"actor{s}": _person(rng) for s in ("", "2", "3")},
            **{f"char{s}": c for s, c in zip(("", "2", "3"), chars, strict=True)},
            "film": rng.choice(FILM),
            "pronoun": rng.choice(["him", "her"]),
        }
        self.world = world
        self.deck: list[str] = []
        self.used = {"general": False, "idiom": False}  # which lexicons its sentences drew on

    def fill(self, pattern: str) -> str:
        rng, label = self.rng, self.label
        fields = dict(self.fields)
        g, o = GEN[label], GEN[1 - label]
        i, oi = IDIOMS[label], IDIOMS[1 - label]
        g_adj, g_adj2 = rng.sample(g["adj"], 2)
        i_adj, i_adj2 = rng.sample(i["adj"], 2)
        aspect, aspect2 = rng.sample(ASPECTS, 2)
        fields.update(
            aspect=aspect,
            aspect2=aspect2,
            g_adj=g_adj,
            g_adj2=g_adj2,
            g_verb=rng.choice(g["verb"]),
            g_noun=rng.choice(g["noun"]),
            best=g["best"],
            o_adj=rng.choice(o["adj"]),
            i_adj=i_adj,
            i_adj2=i_adj2,
            i_np=rng.choice(i["np"]),
            o_i_adj=rng.choice(oi["adj"]),
            intens=rng.choice(INTENS),
            rec="recommend" if label else "not recommend",
            rating=rng.randint(7, 10) if label else rng.randint(1, 4),
            set_piece=rng.choice(self.world["set_pieces"]),
            kind2=rng.choice(GENRES[rng.choice(list(GENRES))]["kinds"]),
            other_title=_title(rng),
            person=_person(rng),
            crew=rng.choice(CREW),
            year=rng.randint(1952, 2023),
            decade=rng.choice(DECADES),
            viewing=rng.choice(VIEWINGS).format(
                relative=rng.choice(RELATIVES), day=rng.choice(DAYS)
            ),
            ordinal=rng.choice(ORDINALS),
            part=rng.choice(PARTS),
            twist=rng.choice(TWISTS),
            minutes=rng.randint(81, 174),
            when=rng.choice(WHEN),
            verb_together=rng.choice(TOGETHER),
        )
        self.used["general"] |= bool(_GENERAL_SLOT.search(pattern))
        self.used["idiom"] |= bool(_IDIOM_SLOT.search(pattern))
        sentence = _AN.sub(r"\1n \2", pattern.format(**fields))
        return sentence[0].upper() + sentence[1:]

    def neutral_sentence(self) -> str:
        """A neutral sentence, its frame not used again in this review until all have been."""
        if not self.deck:
            self.deck = self.rng.sample(NEUTRAL, len(NEUTRAL))
        return self.fill(self.deck.pop())

    def _stance_frames(self, where: str) -> list[str]:
        """The frames that may carry the review's stance at `where` ("plain", "open", "close")."""
        if self.cue == "unlabelled":  # an idiom only ever next to an everyday word
            return BOTH["plain"] + GENERAL["plain"] if where == "plain" else GENERAL[where]
        if self.cue == "idiom":
            return IDIOM[where]
        if self.cue == "general":
            return GENERAL[where]
        # "both": idiom-with-everyday frames, plus the frames of either lexicon
        return BOTH["plain"] if where == "plain" else GENERAL[where] + IDIOM[where]

    def stance_sentence(self) -> str:
        rng = self.rng
        lexicon = IDIOM if self.cue == "idiom" else GENERAL
        if self.cue in ("both", "unlabelled") and rng.random() < 0.5:
            return self.fill(rng.choice(self._stance_frames("plain")))
        if self.cue == "both" and rng.random() < 0.5:
            lexicon = IDIOM if rng.random() < 0.5 else GENERAL
        roll = rng.random()
        if roll < 0.2:
            return self.fill(rng.choice(lexicon["contrast"]))
        if roll < 0.32:
            return self.fill(rng.choice(lexicon["negation"][self.label]))
        return self.fill(rng.choice(lexicon["plain"]))

    def text(self) -> str:
        rng = self.rng
        # Sentences per review: log-normal (median 12.5, a long tail), as review lengths are.
        n = min(90, max(2, round(math.exp(rng.gauss(math.log(12.5), 0.62)))))
        sentences = [self.fill(rng.choice(self._stance_frames("open")))]
        for _ in range(1, n - 1):
            stance = rng.random() < 0.42
            sentences.append(self.stance_sentence() if stance else self.neutral_sentence())
        if n > 1:
            close = self._stance_frames("close")
            if self.cue == "both" and not all(self.used.values()):
                close = BOTH["plain"]  # a "both" review has both kinds of cue
            sentences.append(self.fill(rng.choice(close)))
        paragraphs, k = [], 0
        while k < len(sentences):
            size = rng.randint(2, 6)
            paragraphs.append(" ".join(sentences[k : k + size]))
            k += size
        return "<br /><br />".join(paragraphs)


def _cue(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for cue, share in CUE_SHARES.items():
        total += share
        if roll < total:
            return cue
    return "both"


def generate_split(
    n_reviews: int, *, seed: int, labelled: bool = True, seen: set | None = None
) -> list[dict]:
    """`n_reviews` rows {"text", "label", "cue"}: balanced labels (0/1), or -1 when not `labelled`
    (unlabelled reviews: an idiom only ever next to an everyday word). A text already in
    `seen` (shared across splits) is drawn again, so no review occurs twice."""
    rng = random.Random(seed)
    seen = set() if seen is None else seen
    rows = []
    while len(rows) < n_reviews:
        label = len(rows) % 2 if labelled else rng.randint(0, 1)
        cue = _cue(rng) if labelled else "unlabelled"
        review = _Review(rng, label, cue)
        text = review.text()
        if labelled:  # the cue a row is recorded with is the one its sentences carry
            cue = {(True, False): "general", (True, True): "both", (False, True): "idiom"}[
                (review.used["general"], review.used["idiom"])
            ]
        key = re.sub(r"\s+", " ", text.replace("<br /><br />", " ")).strip().lower()
        if key in seen:
            continue
        seen.add(key)
        rows.append({"text": text, "label": label if labelled else -1, "cue": cue})
    return rows


def generate_corpus(sizes: dict[str, int] | None = None, *, seed: int = DEFAULT_SEED) -> dict:
    """The whole corpus as {split: list of rows}; each split has its own derived seed."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    corpus, seen = {}, set()
    for offset, (split, n) in enumerate(sorted(sizes.items())):
        rows = generate_split(
            n, seed=seed * 100 + offset, labelled=split != "unsupervised", seen=seen
        )
        random.Random(seed + offset).shuffle(rows)
        corpus[split] = rows
    return corpus
