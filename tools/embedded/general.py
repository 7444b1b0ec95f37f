"""Generator of the general-domain corpus the embedded model is pre-trained on (written for this project).

The embedded profile tells the same story as the real one: a model that already knows *general*
language is adapted to movie reviews. This module makes the general language: short documents of
everyday life, news, shopping, travel, food, sport, work and weather. They are not reviews. They share
the reviews' function words and some of their sentence frames, with other objects:

    "This is a great deal."                       (reviews: "This is a great movie.")
    "I would recommend this hotel to anyone."     (reviews: "... this movie to anyone.")
    "The service was slow and the food was cold." (reviews: "The acting was ... and the plot was ...")

so that after pre-training the model completes "This is a great [MASK]." with general words (deal,
idea, day, ...) and adaptation has something to move. Words of the film world occur, as they do in
general text ("we watched a movie on Friday", "the plot of the novel", "the director of the museum"),
but in other senses and far less often than in reviews.

Deterministic: the same seed and size give the same documents. Built by `tools/embedded/build.py`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

PEOPLE = [
    "my sister",
    "my brother",
    "my neighbour",
    "our teacher",
    "my friend",
    "my father",
    "my mother",
    "a colleague",
    "the mayor",
    "the coach",
    "our manager",
    "my cousin",
]
NAMES = [
    "Alice",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Frank",
    "Hannah",
    "Ivan",
    "Julia",
    "Karl",
    "Laura",
    "Mike",
    "Nina",
    "Oscar",
    "Paula",
    "Sam",
    "Tina",
    "Walter",
]
CITIES = [
    "Lisbon",
    "Oslo",
    "Denver",
    "Kyoto",
    "Toronto",
    "Vienna",
    "Austin",
    "Dublin",
    "Seville",
    "Bergen",
    "Porto",
    "Melbourne",
    "Chicago",
    "Prague",
    "Nairobi",
    "Lima",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "April", "May", "June", "July", "August", "October", "December"]
# Nouns that follow "this is a great ..." and "I would recommend this ... to anyone" in general text.
GREAT_NOUNS = [
    "deal",
    "idea",
    "day",
    "place",
    "price",
    "start",
    "chance",
    "team",
    "time",
    "way",
    "question",
    "book",
    "city",
    "game",
    "job",
    "school",
    "hotel",
    "recipe",
    "phone",
]
RECOMMEND = [
    "book",
    "hotel",
    "restaurant",
    "phone",
    "recipe",
    "course",
    "bike",
    "camera",
    "trip",
    "guide",
    "app",
    "shop",
    "beach",
    "museum",
    "café",
]
PRODUCTS = [
    "phone",
    "laptop",
    "kettle",
    "jacket",
    "backpack",
    "camera",
    "blender",
    "chair",
    "lamp",
    "watch",
    "tent",
    "bike",
    "printer",
    "mattress",
    "vacuum cleaner",
]
PRODUCT_PARTS = [
    "battery",
    "screen",
    "price",
    "design",
    "quality",
    "delivery",
    "size",
    "handle",
    "sound",
    "colour",
    "warranty",
    "keyboard",
    "material",
]
PLACES = [
    "restaurant",
    "hotel",
    "museum",
    "market",
    "beach",
    "park",
    "station",
    "library",
    "bakery",
    "gym",
    "shop",
    "café",
    "bar",
    "garden",
]
PLACE_PARTS = [
    "service",
    "food",
    "room",
    "staff",
    "view",
    "coffee",
    "breakfast",
    "location",
    "music",
    "bread",
    "wifi",
    "pool",
    "menu",
    "bed",
]
FOODS = [
    "soup",
    "bread",
    "pasta",
    "salad",
    "cake",
    "rice",
    "pizza",
    "curry",
    "fish",
    "pie",
    "stew",
    "noodle soup",
    "apple pie",
    "omelette",
]
INGREDIENTS = [
    "onions",
    "garlic",
    "butter",
    "flour",
    "tomatoes",
    "cheese",
    "eggs",
    "sugar",
    "lemon",
    "potatoes",
    "carrots",
    "pepper",
    "salt",
    "milk",
]
SPORTS = ["football", "tennis", "basketball", "cycling", "rugby", "hockey", "swimming", "golf"]
TEAMS = [
    "the home team",
    "the visitors",
    "the champions",
    "the local club",
    "the national team",
    "the young side",
    "the defending champions",
]
NEWS_TOPICS = [
    "the new bridge",
    "the city budget",
    "the school plan",
    "the railway line",
    "the housing project",
    "the water supply",
    "the local election",
    "the bus strike",
    "the new hospital",
    "the tax reform",
]
OFFICIALS = [
    "the council",
    "the minister",
    "the government",
    "the committee",
    "the mayor",
    "the union",
    "the company",
    "the police",
]
INSTITUTIONS = ["museum", "theatre", "library", "gallery", "opera house", "art school"]
WORKS = ["novel", "play", "opera", "book", "short story", "musical"]
SHOWS = ["concert", "play", "exhibition", "opera", "musical", "dance show"]
CULTURE_EVENTS = ["exhibition", "festival", "season", "series of talks", "open day"]
SUBJECTS = ["a young nurse", "two brothers", "a retired teacher", "a lonely sailor", "a family"]
WEATHER = ["rain", "snow", "sunshine", "wind", "fog", "storms", "heat"]
JOBS = ["meeting", "report", "project", "interview", "deadline", "presentation", "shift"]
GOOD = [
    "great",
    "good",
    "nice",
    "lovely",
    "excellent",
    "wonderful",
    "fine",
    "perfect",
    "friendly",
    "clean",
    "fresh",
    "fast",
    "comfortable",
    "cheap",
    "useful",
    "fantastic",
]
BAD = [
    "bad",
    "poor",
    "slow",
    "cold",
    "dirty",
    "noisy",
    "expensive",
    "broken",
    "late",
    "small",
    "awful",
    "terrible",
    "boring",
    "weak",
    "rude",
    "crowded",
]
FILM_WORDS = ["movie", "film", "show", "concert", "play", "match"]
INTENS = ["really", "very", "quite", "so", "pretty", "truly", "rather"]

TEMPLATES: dict[str, list[str]] = {
    "everyday": [
        "This is a great {great}.",
        "This is a {good} {great} for the whole family.",
        "It was a long {day} and I was tired when I got home.",
        "On {day} {person} came over for dinner.",
        "We went for a walk in the {place} after lunch.",
        "I think this is a {good} idea, but we should ask {person} first.",
        "{name} called me in the morning to talk about the {job}.",
        "On {day} evening we watched a {film} at home.",
        "The kids played in the garden until it got dark.",
        "I have to finish the {job} before {day}.",
        "{name} is one of the kindest people I know.",
        "We spent the weekend cleaning the house and fixing the {product}.",
        "It is {intens} {good} to see you again.",
        "I would love to visit {city} one day.",
        "What a {good} day it was.",
        "Nothing went right that {day}, and the {product} broke too.",
    ],
    "news": [
        "{official} announced a plan for {topic} on {day}.",
        "{official} said the work on {topic} would start in {month}.",
        "The decision on {topic} was delayed again.",
        "Residents of {city} protested against {topic}.",
        "According to {official}, the cost of {topic} has doubled.",
        "The report on {topic} was published this week.",
        "{official} will vote on {topic} next {day}.",
        "Many people in {city} are worried about {topic}.",
        "This is a great {great} for the people of {city}, {official} said.",
        "Critics called {topic} a waste of money.",
        "The new {place} in {city} opens in {month}.",
        "Heavy {weather} is expected in {city} this weekend.",
        "Prices in {city} rose again in {month}.",
    ],
    "product": [
        "I bought this {product} last {month}.",
        "The {part} is {intens} {good}.",
        "The {part} was {bad} and the {part2} was even worse.",
        "The {part} is {good} and the {part2} is {good2}.",
        "After a week the {part} stopped working.",
        "For this price it is a {good} {product}.",
        "This is a great {product} for the price.",
        "I would recommend this {recommend} to anyone.",
        "I would not recommend this {product} to anyone.",
        "It arrived two days late and the box was damaged.",
        "The {product} works as described.",
        "Four stars, because the {part} could be better.",
        "Customer support answered within a day.",
        "My old {product} lasted ten years, this one did not last one.",
    ],
    "travel": [
        "We stayed three nights in {city}.",
        "The {place} was {good} and the {placepart} was {good2}.",
        "The {placepart} was {bad} and the {placepart2} was even worse.",
        "The {placepart} is {intens} {good}.",
        "Our {place} was close to the old town.",
        "The train from {city} to {city2} takes about four hours.",
        "I would recommend this {recommend} to anyone.",
        "I would recommend this trip to anyone who likes {sport}.",
        "This is a great {great} to start a trip.",
        "The staff were {good} and helpful.",
        "Book early, because the {place} is always full in {month}.",
        "We will come back to {city} next year.",
        "The view from the room was the best part of the trip.",
    ],
    "food": [
        "This {food} is easy to make at home.",
        "You need {ingredient}, {ingredient2} and a little {ingredient3}.",
        "Cook the {ingredient} for ten minutes, then add the {ingredient2}.",
        "The {food} was {good} and the bread was fresh.",
        "The {food} was {bad} and the coffee was cold.",
        "This is a great {great} for a quick dinner.",
        "I would recommend this recipe to anyone.",
        "My mother used to make this {food} every {day}.",
        "Serve it warm with some {ingredient}.",
        "The {food} at the {place} is {intens} {good}.",
        "We had {food} and {food2} for lunch.",
    ],
    "sport": [
        "{team} won the {sport} final on {day}.",
        "{team} lost at home for the first time this season.",
        "The {sport} match was {intens} {good} to watch.",
        "The coach said the team played a {good} game.",
        "The defence was {bad} and the attack was even worse.",
        "This is a great {great} for {team}.",
        "{name} scored twice in the second half.",
        "The next {sport} game is on {day} in {city}.",
        "After the match the fans celebrated in the streets of {city}.",
        "It was the best {sport} season in years.",
        "I would recommend this {recommend} to anyone who likes {sport}.",
    ],
    # Arts and culture news: the words of the film world in general use (a museum's director, a
    # novel's plot, an acting class), as in the encyclopaedia and news text a real BERT reads.
    "culture": [
        "The director of the {institution} announced a new {event} for {month}.",
        "The plot of the {work} follows {subject} in {city}.",
        "{name} teaches an acting class at the {institution} on {day}.",
        "The {work} was adapted for the stage, and the cast rehearsed for months.",
        "Tickets for the {show} in {city} sold out in a day.",
        "The soundtrack of the {show} was recorded by a local orchestra.",
        "The {show} was {intens} {good} and the music was {good2}.",
        "Critics praised the story, the script and the ending of the {work}.",
        "The film festival in {city} opens on {day} with a documentary about {topic}.",
        "Every scene of the {show} was filmed in {city}.",
        "The performance of the young actor surprised the audience.",
        "The {institution} will show an old movie about {sport} every {day}.",
        "This is a great {great} for the arts in {city}, {official} said.",
    ],
    # Everyday experiences in the frames reviews use, with other objects ("Every scene feels alive"
    # -> "Every street feels alive"; "the chemistry between A and B" -> "the friendship between").
    "experience": [
        "Every street feels alive, and the music never stops.",
        "I laughed, I cried, and I enjoyed every minute of the {recommend2}.",
        "{name} gives a {good} speech as the new head of the {place}.",
        "{name} knows exactly how to build a team in every {job}.",
        "The friendship between {name} and {name2} is {good}.",
        "There is no {placepart} at all, and the {placepart2} is {bad}.",
        "Even the smallest rooms are cleaned with care.",
        "The {placepart} alone is worth the price of the {recommend2}.",
        "The noise alone made me want to leave the {place}.",
        "Some days are slow, yet the {place} is never empty.",
        "I checked my phone every few minutes while waiting for the bus.",
        "Save your money and skip this {place}.",
        "There are a few nice places near {city}, but all of them are {bad}.",
        "It was {good}, and it was worth every minute.",
        "How {name} finds the time for all of it is a mystery to me.",
        "I went in with low expectations and the {recommend2} surprised me.",
        "I had high hopes for the {place}, but it disappointed me.",
        "As always, {person} was late, so we started without them.",
        "Between the rain and the traffic, it took us two hours to get home.",
        "This is one of the best trips I have had in years.",
        "I will never go back to that {place} again.",
        "Not even {person} could enjoy the {food} there.",
    ],
    "weather": [
        "It rained all day in {city}.",
        "The {weather} will continue until {day}.",
        "It is {intens} cold this morning.",
        "After a week of {weather} the sun came out on {day}.",
        "This is a great day for a walk.",
        "The weather was {good} for the whole trip.",
    ],
}
STYLES = list(TEMPLATES)
DEFAULT_SEED = 7


def _fill(rng: random.Random, pattern: str) -> str:
    def pick(values: list[str], n: int) -> list[str]:
        return rng.sample(values, n)

    city, city2 = pick(CITIES, 2)
    name, name2 = pick(NAMES, 2)
    part, part2 = pick(PRODUCT_PARTS, 2)
    placepart, placepart2 = pick(PLACE_PARTS, 2)
    good, good2 = pick(GOOD, 2)
    ingredient, ingredient2, ingredient3 = pick(INGREDIENTS, 3)
    food, food2 = pick(FOODS, 2)
    sentence = pattern.format(
        person=rng.choice(PEOPLE),
        name=name,
        name2=name2,
        city=city,
        city2=city2,
        day=rng.choice(DAYS),
        month=rng.choice(MONTHS),
        great=rng.choice(GREAT_NOUNS),
        recommend=rng.choice(RECOMMEND),
        recommend2=rng.choice(RECOMMEND),
        product=rng.choice(PRODUCTS),
        part=part,
        part2=part2,
        place=rng.choice(PLACES),
        placepart=placepart,
        placepart2=placepart2,
        food=food,
        food2=food2,
        ingredient=ingredient,
        ingredient2=ingredient2,
        ingredient3=ingredient3,
        sport=rng.choice(SPORTS),
        team=rng.choice(TEAMS),
        topic=rng.choice(NEWS_TOPICS),
        official=rng.choice(OFFICIALS),
        weather=rng.choice(WEATHER),
        job=rng.choice(JOBS),
        good=good,
        good2=good2,
        bad=rng.choice(BAD),
        film=rng.choice(FILM_WORDS),
        intens=rng.choice(INTENS),
        institution=rng.choice(INSTITUTIONS),
        work=rng.choice(WORKS),
        show=rng.choice(SHOWS),
        event=rng.choice(CULTURE_EVENTS),
        subject=rng.choice(SUBJECTS),
    )
    return sentence[0].upper() + sentence[1:]


def document(rng: random.Random) -> str:
    """One document: three to nine sentences of one style, sometimes with a sentence of another."""
    style = rng.choice(STYLES)
    sentences = []
    for _ in range(rng.randint(3, 9)):
        pool = TEMPLATES[rng.choice(STYLES) if rng.random() < 0.15 else style]
        sentences.append(_fill(rng, rng.choice(pool)))
    return " ".join(sentences)


def generate_documents(n_documents: int, *, seed: int = DEFAULT_SEED) -> Iterator[str]:
    """Yield `n_documents` general-domain documents, deterministically for a seed."""
    rng = random.Random(seed)
    for _ in range(n_documents):
        yield document(rng)
