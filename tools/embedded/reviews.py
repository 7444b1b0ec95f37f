"""Generator of the embedded review corpus ("imdb-mini"), written for this project.

Nothing here is taken from IMDB or any other review site: titles, names and sentences are assembled from
word lists and sentence patterns written for this tutorial. The result has the traits that matter for
learning masked-LM fine-tuning on reviews:

- the Hub's `imdb` schema: splits train / test / unsupervised, columns `text` (str) and `label`
  (0 negative, 1 positive; -1 in `unsupervised`, as on the Hub);
- lengths from a single line to several paragraphs, joined by ``<br /><br />`` tags as in scraped reviews;
- recurring movie vocabulary (acting, plot, director, scenes, soundtrack, ...) with sentiment-bearing
  words that depend on the label, so a tiny model can learn the patterns within minutes on a CPU;
- a few exact duplicates and some ratings such as "7/10", like real review dumps.

It is deterministic: the same seed and sizes give the same corpus, byte for byte. The shipped parquet
files are rebuilt with ``python -m tools.embedded.build corpus`` (see `build.py`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

GENRES = {
    "horror": ["haunted house", "slasher", "monster", "ghost story", "zombie outbreak"],
    "comedy": ["romantic comedy", "buddy comedy", "satire", "farce", "sitcom spin-off"],
    "drama": ["family drama", "courtroom drama", "period piece", "coming-of-age story", "biopic"],
    "thriller": ["heist", "spy thriller", "psychological thriller", "conspiracy thriller", "chase"],
    "western": ["western", "frontier tale", "revenge western"],
    "science fiction": ["space opera", "time travel story", "alien invasion", "robot story"],
    "romance": ["love story", "wartime romance", "summer romance"],
    "documentary": ["nature documentary", "music documentary", "sports documentary"],
    "animation": ["animated feature", "cartoon", "stop-motion film"],
    "war": ["war epic", "submarine drama", "resistance story"],
}
TITLE_FIRST = [
    "The Last",
    "Midnight",
    "Silent",
    "Broken",
    "Golden",
    "Crimson",
    "Lonely",
    "Hidden",
    "Burning",
    "Frozen",
    "Wild",
    "Forgotten",
    "Distant",
    "Electric",
    "Paper",
    "Iron",
    "Velvet",
    "Hollow",
    "Restless",
    "Quiet",
]
TITLE_SECOND = [
    "Harbor",
    "Circus",
    "Highway",
    "Garden",
    "Frontier",
    "Signal",
    "Orchard",
    "Tide",
    "Kingdom",
    "Station",
    "Lantern",
    "Canyon",
    "Letters",
    "Carnival",
    "Summer",
    "Bridge",
    "Machine",
    "River",
    "Hotel",
    "Island",
]
FIRST_NAMES = [
    "Anna",
    "Marco",
    "Lena",
    "Victor",
    "Grace",
    "Tomas",
    "Ruth",
    "Felix",
    "Nora",
    "Omar",
    "Clara",
    "Hugo",
    "Iris",
    "Jonah",
    "Maya",
    "Pavel",
    "Sofia",
    "Elliot",
    "Dina",
    "Rafael",
]
LAST_NAMES = [
    "Whitlock",
    "Moreno",
    "Castellan",
    "Okafor",
    "Lindqvist",
    "Brannigan",
    "Ferreira",
    "Hollis",
    "Kowalski",
    "Delacroix",
    "Ashby",
    "Takeda",
    "Marlowe",
    "Quinlan",
    "Varga",
    "Osei",
    "Pembroke",
    "Sandoval",
    "Thornton",
    "Novak",
]
ROLES = [
    "the detective",
    "the young widow",
    "the old sheriff",
    "the mad scientist",
    "the lead",
    "the villain",
    "the mother",
    "the captain",
    "the reporter",
    "the teenage hero",
    "the sidekick",
]
PLOT_SUBJECTS = [
    "a small-town teacher",
    "two estranged brothers",
    "a retired boxer",
    "a young nurse",
    "a group of college friends",
    "a stubborn farmer",
    "a famous chef",
    "a lonely astronaut",
    "a struggling musician",
    "an ambitious lawyer",
    "a family on vacation",
    "a rookie cop",
]
PLOT_EVENTS = [
    "who discovers a secret",
    "who must save the town",
    "who falls in love with a stranger",
    "who is haunted by the past",
    "who plans one last job",
    "who returns home after years",
    "who gets lost in the wilderness",
    "who uncovers a conspiracy",
    "who tries to win back a family",
    "who competes in a championship",
]
ASPECTS = [
    "acting",
    "script",
    "direction",
    "soundtrack",
    "cinematography",
    "dialogue",
    "editing",
    "ending",
    "plot",
    "special effects",
    "pacing",
    "score",
    "cast",
    "story",
]
POS_ADJ = [
    "great",
    "wonderful",
    "brilliant",
    "excellent",
    "superb",
    "moving",
    "beautiful",
    "fantastic",
    "touching",
    "gripping",
    "charming",
    "outstanding",
    "clever",
    "memorable",
]
NEG_ADJ = [
    "terrible",
    "awful",
    "boring",
    "dull",
    "weak",
    "predictable",
    "painful",
    "lazy",
    "poor",
    "ridiculous",
    "bland",
    "forgettable",
    "messy",
    "pointless",
]
POS_NOUN = ["masterpiece", "gem", "triumph", "delight", "classic", "treat", "joy"]
NEG_NOUN = ["mess", "disaster", "waste of time", "letdown", "failure", "bore", "disappointment"]
POS_VERB = ["loved", "enjoyed", "adored", "admired", "appreciated"]
NEG_VERB = ["hated", "disliked", "regretted", "could not stand", "endured"]
INTENSIFIERS = ["really", "truly", "very", "quite", "incredibly", "surprisingly", "simply"]
VERB_INTENSIFIERS = ["really", "truly", "completely", "genuinely", "badly", "honestly"]

OPENERS = {
    1: [
        "I {pos_verb} {title}.",
        "{title} is a {pos_adj} {sub}.",
        "What a {pos_adj} film {title} turned out to be.",
        "I went in with low expectations and {title} {vintens} surprised me.",
        "This is one of the best {genre} movies I have seen in years.",
        "{title} is a {pos_noun} of the {genre} genre.",
        "This is a {pos_adj} {film}.",
        "This is a {pos_adj} {film} with a {pos_adj2} {aspect}.",
    ],
    0: [
        "I {neg_verb} {title}.",
        "{title} is a {neg_adj} {sub}.",
        "What a {neg_adj} film {title} turned out to be.",
        "I had high hopes for {title}, but it {vintens} disappointed me.",
        "This is one of the worst {genre} movies I have seen in years.",
        "{title} is a {neg_noun} from start to finish.",
        "This is a {neg_adj} {film}.",
        "This is a {neg_adj} {film} with a {neg_adj2} {aspect}.",
    ],
}
PLOT = [
    "The movie follows {subject} {event}.",
    "The story is about {subject} {event}.",
    "{title} tells the story of {subject} {event}.",
    "Directed by {director}, the film follows {subject} {event}.",
    "Set in a quiet town, it follows {subject} {event}.",
]
BODY = {
    1: [
        "The {aspect} is {intens} {pos_adj}.",
        "{actor} gives a {pos_adj} performance as {role}.",
        "The {aspect} was {pos_adj} and the {aspect2} was even better.",
        "{director} knows exactly how to build tension in every scene.",
        "Every scene feels alive, and the {aspect} never lets go.",
        "I laughed, I cried, and I {pos_verb} every minute of it.",
        "The chemistry between {actor} and {actor2} is {pos_adj}.",
        "Even the smallest roles are played with care.",
        "The {aspect} alone is worth the price of the ticket.",
    ],
    0: [
        "The {aspect} is {intens} {neg_adj}.",
        "{actor} gives a {neg_adj} performance as {role}.",
        "The {aspect} was {neg_adj} and the {aspect2} was even worse.",
        "{director} has no idea how to build tension in a scene.",
        "Every scene drags, and the {aspect} goes nowhere.",
        "I checked my watch every few minutes and {neg_verb} every minute of it.",
        "There is no chemistry between {actor} and {actor2} at all.",
        "Even the best actors look lost here.",
        "The {aspect} alone made me want to leave the theater.",
    ],
}
MIXED = {
    1: [
        "The {aspect} is a bit {neg_adj}, but it hardly matters.",
        "Some scenes are slow, yet the {aspect} keeps you watching.",
    ],
    0: [
        "The {aspect} is {pos_adj}, but it cannot save the movie.",
        "There are a few nice moments, yet the {aspect} ruins them.",
    ],
}
CLOSERS = {
    1: [
        "I would recommend this movie to anyone.",
        "Highly recommended.",
        "Go see it, you will not regret it.",
        "A must-see for every fan of {genre}.",
        "I will watch it again soon.",
        "{rating}/10.",
        "All in all, this is a {pos_adj} {film}.",
    ],
    0: [
        "I would not recommend this movie to anyone.",
        "Avoid it.",
        "Save your money and skip this one.",
        "Not even fans of {genre} will enjoy this.",
        "I will never watch it again.",
        "{rating}/10.",
        "All in all, this is a {neg_adj} {film}.",
    ],
}
ASIDES = [
    "I saw it at a festival last year.",
    "My friends dragged me to see it.",
    "I watched it on a rainy Sunday afternoon.",
    "I rented it on a whim.",
    "I remember the trailer from years ago.",
    "Spoilers ahead.",
]

SPLIT_SIZES = {"train": 2500, "test": 2500, "unsupervised": 5000}
DEFAULT_SEED = 2024


class _Review:
    """Draws one review's cast, title and sentences from a seeded random generator."""

    def __init__(self, rng: random.Random, label: int) -> None:
        self.rng, self.label = rng, label
        genre = rng.choice(list(GENRES))
        self.fields = {
            "title": f"{rng.choice(TITLE_FIRST)} {rng.choice(TITLE_SECOND)}",
            "genre": genre,
            "sub": rng.choice(GENRES[genre]),
            "director": self._person(),
            "actor": self._person(),
            "actor2": self._person(),
            "subject": rng.choice(PLOT_SUBJECTS),
            "event": rng.choice(PLOT_EVENTS),
        }

    def _person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def fill(self, pattern: str) -> str:
        rng, fields = self.rng, dict(self.fields)
        aspect, aspect2 = rng.sample(ASPECTS, 2)
        pos_adj, pos_adj2 = rng.sample(POS_ADJ, 2)
        neg_adj, neg_adj2 = rng.sample(NEG_ADJ, 2)
        fields.update(
            aspect=aspect,
            aspect2=aspect2,
            role=rng.choice(ROLES),
            intens=rng.choice(INTENSIFIERS),
            vintens=rng.choice(VERB_INTENSIFIERS),
            pos_adj=pos_adj,
            pos_adj2=pos_adj2,
            neg_adj=neg_adj,
            neg_adj2=neg_adj2,
            film=rng.choice(("movie", "film")),
            pos_noun=rng.choice(POS_NOUN),
            neg_noun=rng.choice(NEG_NOUN),
            pos_verb=rng.choice(POS_VERB),
            neg_verb=rng.choice(NEG_VERB),
            rating=rng.randint(7, 10) if self.label == 1 else rng.randint(1, 4),
        )
        sentence = pattern.format(**fields)
        return sentence[0].upper() + sentence[1:]

    def paragraph(self, n_sentences: int, first: bool, last: bool) -> str:
        rng, label = self.rng, self.label
        patterns = []
        if first:
            if rng.random() < 0.15:
                patterns.append(rng.choice(ASIDES))
            patterns.append(rng.choice(OPENERS[label]))
            if n_sentences > 2:
                patterns.append(rng.choice(PLOT))
        while len(patterns) < n_sentences - int(last):
            pool = MIXED[label] if rng.random() < 0.12 else BODY[label]
            patterns.append(rng.choice(pool))
        if last:
            patterns.append(rng.choice(CLOSERS[label]))
        return " ".join(self.fill(p) for p in patterns)

    def text(self) -> str:
        rng = self.rng
        shape = rng.random()
        if shape < 0.08:  # a one-liner
            return self.fill(rng.choice(OPENERS[self.label]))
        if shape < 0.40:  # one paragraph
            n_paragraphs, sentences = 1, (2, 6)
        elif shape < 0.93:  # the usual few paragraphs
            n_paragraphs, sentences = rng.choice([2, 2, 3, 3, 4, 5]), (3, 7)
        else:  # the long essays that overflow the model's 512-token window
            n_paragraphs, sentences = rng.randint(6, 10), (5, 9)
        paragraphs = [
            self.paragraph(rng.randint(*sentences), first=i == 0, last=i == n_paragraphs - 1)
            for i in range(n_paragraphs)
        ]
        return "<br /><br />".join(paragraphs)


def generate_split(n_reviews: int, *, seed: int, labelled: bool = True) -> Iterator[dict]:
    """Yield `n_reviews` rows {"text", "label"}: balanced labels (0/1), or -1 when not `labelled`.

    About 1% of rows repeat an earlier review exactly, as in real review dumps.
    """
    rng = random.Random(seed)
    previous: list[tuple[str, int]] = []
    for i in range(n_reviews):
        label = i % 2 if labelled else rng.randint(0, 1)
        if previous and rng.random() < 0.01:
            text, label = rng.choice(previous)
        else:
            text = _Review(rng, label).text()
            previous.append((text, label))
        yield {"text": text, "label": label if labelled else -1}


def generate_corpus(sizes: dict[str, int] | None = None, *, seed: int = DEFAULT_SEED) -> dict:
    """The whole corpus as {split: list of rows}; each split has its own derived seed."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    corpus = {}
    for offset, (split, n) in enumerate(sorted(sizes.items())):
        rows = list(generate_split(n, seed=seed * 100 + offset, labelled=split != "unsupervised"))
        random.Random(seed + offset).shuffle(rows)
        corpus[split] = rows
    return corpus
