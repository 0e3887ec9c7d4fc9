"""Knowledge-update benchmark: facts that change over weeks of chit-chat.

    python -m chatapp.bench updates [--threads 10] [--seed 7] [--scale N] [--budget 2048]
                                    [--gates] [--json PATH]

Generates threads of its own (nothing is read from any data set): a person chats with a
friend over several weeks of sessions, mostly small talk, and now and then states
something about their life (where they live, their job, partner, pet, diet, hobby, car,
sport, studies, phone, …) and later that it changed, in many different wordings. Then
it asks about the current value ("Where does Ines live now?"), the previous one
("Where did Ines live before?") and when it changed.

The threads are written in LoCoMo's layout and run through `bench memory` itself (its
`main`, with `--dump`): the same ingest (store, embeddings, slots, the model's fact
reading where it is big enough) and the same context build at the same budget. Each
question's context is then scored:

- current: the current value is in the context;
- stale-only: only an old value is in it (the model would answer with the old city);
- in a slot: the current value is in a memory slot as its current value (not as history);
- previous: for questions about the value before, that value is in the context;
- date: for questions about when it changed, the date of the change is in the context.

The wordings of statements and changes are split in two halves by a fixed draw: the
"train" threads use one half, the "test" threads the other. Work on the memory looks at
train; test says whether the gains hold for wordings nobody tuned for.

`--scale N` makes each thread N times longer (N times the sessions, so N times the months:
4 is about a year) and lets each attribute change up to N times more often, so that the
slots are read on a long life whose home or job changed five times, not twice.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import random
import re
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.bench.report import table, write_json


@dataclass(frozen=True)
class Kind:
    """One attribute of a life: the values it takes, how people state it and say it
    changed, and how one asks about it. In the templates {v} is the value as said,
    {old} the value before; {name} is the person."""

    name: str
    values: tuple[tuple[str, str], ...]  # (as said, what must appear in the context)
    states: tuple[str, ...]
    changes: tuple[str, ...]
    now_questions: tuple[str, ...]
    before_questions: tuple[str, ...]
    when_questions: tuple[str, ...]
    mentions: tuple[
        str, ...
    ] = ()  # the value in passing, no statement of it ("Rent in {v} went up")


def _same(*words: str) -> tuple[tuple[str, str], ...]:
    return tuple((w, w) for w in words)


KINDS: tuple[Kind, ...] = (
    Kind(
        "home",
        _same(
            "Utrecht",
            "Rotterdam",
            "Ghent",
            "Leipzig",
            "Porto",
            "Bergen",
            "Valencia",
            "Krakow",
            "Cork",
            "Tampere",
            "Graz",
            "Bologna",
            "Aarhus",
            "Brno",
            "Lyon",
            "Seville",
        ),
        (
            "I live in {v}, it's a lovely place.",
            "We've got a small flat in {v}.",
            "Home is {v} for me.",
            "I'm renting a room in {v} at the moment.",
            "I've lived in {v} for about three years.",
            "My place in {v} is tiny but I love it.",
            "I'm a {v} person, been there ages.",
            "I settled in {v} after uni.",
        ),
        (
            "Big news, I moved to {v}! Still unpacking.",
            "These days I'm based in {v}.",
            "We finally left {old}, we're in {v} now.",
            "I've relocated to {v}, new flat and everything.",
            "Living in {v} now, the move went fine.",
            "Said goodbye to {old} last week, {v} is home now.",
            "Just signed the lease on a place in {v}, I'm officially a resident.",
            "I packed up and went to {v}, couldn't afford {old} anymore.",
            "Our new address is in {v}.",
            "We've made the move to {v}.",
        ),
        (
            "Where does {name} live now?",
            "Which city is {name} based in at the moment?",
            "What city does {name} currently call home?",
        ),
        ("Where did {name} live before moving?", "Which city did {name} live in before the move?"),
        ("When did {name} move to {v}?", "When did {name} relocate to {v}?"),
        (
            "Rent in {v} keeps going up.",
            "There's a street festival in {v} this weekend.",
            "{v} was so busy today.",
            "The buses in {v} are always late.",
            "I found a great bakery in {v}.",
        ),
    ),
    Kind(
        "job",
        (
            ("a nurse", "nurse"),
            ("a maths teacher", "maths teacher"),
            ("an architect", "architect"),
            ("a paramedic", "paramedic"),
            ("a librarian", "librarian"),
            ("a pharmacist", "pharmacist"),
            ("a carpenter", "carpenter"),
            ("a translator", "translator"),
            ("a dental hygienist", "dental hygienist"),
            ("a bus driver", "bus driver"),
            ("a data analyst", "data analyst"),
            ("a pastry chef", "pastry chef"),
            ("a physiotherapist", "physiotherapist"),
            ("an electrician", "electrician"),
        ),
        (
            "I work as {v}.",
            "I'm {v}, have been for years.",
            "My job? I'm {v}.",
            "Being {v} keeps me busy.",
            "I earn my living as {v}.",
            "I trained as {v} and that's my job.",
            "Work is fine, being {v} has its moments.",
            "I've been {v} since I left school.",
        ),
        (
            "I quit being {old}, I'm {v} now!",
            "New job: I'm working as {v}.",
            "I started as {v} this month, {old} was wearing me out.",
            "I'm {v} these days.",
            "I switched careers, I'm {v} now.",
            "Got the offer! I'm officially {v}.",
            "Handed in my notice as {old}; from Monday I'm {v}.",
            "My new job as {v} is going great.",
            "I retrained and now I work as {v}.",
            "Turns out I make a decent {v}, that's my job now.",
        ),
        (
            "What does {name} do for work now?",
            "What is {name}'s current job?",
            "What is {name}'s job these days?",
        ),
        ("What was {name}'s job before?", "What did {name} work as before changing jobs?"),
        ("When did {name} start working as {v}?", "When did {name} become {v}?"),
        (
            "Another long shift as {v}, phew.",
            "Being {v} is exhausting some days.",
            "People have no idea what {v} actually does.",
            "Had a funny day at work as {v}.",
        ),
    ),
    Kind(
        "partner",
        _same(
            "Jonas",
            "Mireille",
            "Tariq",
            "Henrike",
            "Osvaldo",
            "Saskia",
            "Benedikt",
            "Ottilie",
            "Rafferty",
            "Yolanda",
            "Casimir",
            "Philippa",
        ),
        (
            "My partner {v} says hi.",
            "I've been with {v} for two years now.",
            "{v} and I are living together.",
            "My boyfriend {v} cooked dinner tonight.",
            "My girlfriend {v} is the best.",
            "{v}, my partner, is away this week.",
            "I'm seeing someone, {v}, it's going really well.",
            "Date night with {v} tonight.",
        ),
        (
            "{old} and I broke up. I'm with {v} now.",
            "I've started dating {v}.",
            "Things ended with {old}; I'm seeing {v} these days.",
            "My new partner {v} is lovely.",
            "I'm together with {v} now, after {old} and I split.",
            "Met someone: {v}. We're official!",
            "{v} and I just moved in together, {old} is history.",
            "I'm in a relationship with {v} now.",
            "My girlfriend now is {v}.",
            "My boyfriend these days is {v}.",
        ),
        (
            "Who is {name}'s partner now?",
            "Who is {name} dating at the moment?",
            "Who is {name} with now?",
        ),
        (
            "Who was {name}'s partner before?",
            "Who was {name} with before the current relationship?",
        ),
        ("When did {name} start dating {v}?", "When did {name} get together with {v}?"),
        (
            "{v} says hi!",
            "{v} made pancakes this morning.",
            "{v} and I watched a film last night.",
            "{v} is obsessed with that new show.",
        ),
    ),
    Kind(
        "pet",
        (
            ("a dog called Biscuit", "Biscuit"),
            ("a cat called Mochi", "Mochi"),
            ("a kitten, Pip", "Pip"),
            ("a rabbit called Clover", "Clover"),
            ("a parrot named Kiwi", "Kiwi"),
            ("a greyhound called Dash", "Dash"),
            ("a tortoise called Sheldon", "Sheldon"),
            ("a hamster named Nugget", "Nugget"),
            ("a beagle named Juniper", "Juniper"),
            ("a ferret called Bandit", "Bandit"),
        ),
        (
            "I have {v}.",
            "We've got {v}, spoiled rotten.",
            "At home it's me and {v}.",
            "Our pet is {v}.",
            "I adopted {v} a while back.",
            "I share my flat with {v}.",
            "My little companion is {v}.",
            "Walking {v} is my morning routine.",
        ),
        (
            "We had to rehome {old}, but we adopted {v}.",
            "Meet the newest member of the family: {v}!",
            "After {old} passed away, we got {v}.",
            "The pet situation changed: it's {v} now.",
            "{v} has taken over the sofa since we brought them home.",
            "We have {v} now, {old} went to my aunt's farm.",
            "We welcomed {v} into the house this week.",
            "Our only pet these days is {v}.",
            "Said goodbye to {old}. Now we have {v}.",
            "We took in {v} from the shelter, the house feels full again.",
        ),
        (
            "What pet does {name} have now?",
            "What is the name of {name}'s current pet?",
            "Which animal lives with {name} these days?",
        ),
        ("What pet did {name} have before?", "What was the name of {name}'s earlier pet?"),
        ("When did {name} get {v}?", "When did {name} bring {v} home?"),
        (
            "{v} knocked a glass off the table, again.",
            "{v} woke me up at five.",
            "The vet says {v} is healthy.",
            "{v} chewed my slipper.",
        ),
    ),
    Kind(
        "diet",
        _same("vegetarian", "vegan", "pescatarian", "keto", "gluten-free", "flexitarian", "paleo"),
        (
            "I'm {v}, have been for a while.",
            "I eat {v}, so no surprises at dinner please.",
            "My diet is {v}.",
            "Being {v} suits me.",
            "I keep to a {v} diet.",
            "I follow a {v} way of eating.",
            "Food-wise I'm {v}.",
        ),
        (
            "I've gone {v}, goodbye {old} days.",
            "I'm {v} now, switched last month.",
            "I stopped being {old}; it's {v} for me these days.",
            "New diet: fully {v}.",
            "I changed my diet, I'm {v} now.",
            "I eat {v} now, {old} didn't work for me.",
            "Since the doctor's advice I'm {v}.",
            "From now on I'm {v}.",
            "My eating is {v} these days.",
        ),
        (
            "What diet does {name} follow now?",
            "How does {name} eat these days?",
            "What is {name}'s diet at the moment?",
        ),
        ("What diet did {name} follow before?", "What was {name}'s diet before the change?"),
        ("When did {name} go {v}?", "When did {name} switch to a {v} diet?"),
        (
            "Finding {v} options at restaurants is a pain.",
            "I found a great {v} recipe.",
            "Being {v} at a barbecue is tricky.",
        ),
    ),
    Kind(
        "hobby",
        _same(
            "bouldering",
            "pottery",
            "salsa dancing",
            "birdwatching",
            "fencing",
            "woodturning",
            "kayaking",
            "calligraphy",
            "beekeeping",
            "archery",
            "origami",
            "rowing",
        ),
        (
            "My hobby is {v}.",
            "I spend my weekends on {v}.",
            "I'm really into {v}.",
            "{v} is my thing.",
            "I do {v} whenever I can.",
            "I've been doing {v} for years.",
            "Evenings are for {v}.",
            "I'm obsessed with {v}.",
        ),
        (
            "I gave up {old}; {v} is my thing now.",
            "I've swapped {old} for {v}.",
            "My new hobby is {v}.",
            "These days it's all {v}, I stopped {old}.",
            "I'm doing {v} now instead of {old}.",
            "{v} has replaced {old} on my weekends.",
            "I quit {old} and took up {v}.",
            "Not doing {old} anymore, I'm hooked on {v}.",
            "I'm into {v} now.",
            "Weekends are for {v} now.",
        ),
        (
            "What is {name}'s hobby now?",
            "What does {name} do in their free time these days?",
            "Which hobby is {name} into at the moment?",
        ),
        (
            "What hobby did {name} have before?",
            "What did {name} do for fun before the current hobby?",
        ),
        ("When did {name} take up {v}?", "When did {name} start {v}?"),
        (
            "Did some {v} this morning, my arms hurt.",
            "There's a {v} meetup on Thursday.",
            "I watched videos about {v} for hours.",
        ),
    ),
    Kind(
        "car",
        _same(
            "Fiat Panda",
            "Volvo V70",
            "Skoda Octavia",
            "Nissan Leaf",
            "Mazda MX-5",
            "Renault Zoe",
            "Subaru Outback",
            "Kia Ceed",
            "Peugeot 208",
            "Toyota Yaris",
        ),
        (
            "I drive a {v}.",
            "My car is a {v}.",
            "I get around in my {v}.",
            "My old {v} never lets me down.",
            "I own a {v}.",
            "The {v} is my car.",
            "I'm a {v} driver.",
        ),
        (
            "I sold the {old} and bought a {v}.",
            "I'm driving a {v} now.",
            "New car! A {v}.",
            "I traded in my {old} for a {v}.",
            "My car these days is a {v}.",
            "I finally replaced the {old}: {v}.",
            "I've got a {v} now, the {old} is gone.",
            "Picked up my {v} from the dealer, the {old} went for scrap.",
            "My new wheels are a {v}.",
        ),
        (
            "What car does {name} drive now?",
            "What is {name}'s current car?",
            "Which car does {name} have these days?",
        ),
        ("What car did {name} drive before?", "What was {name}'s previous car?"),
        ("When did {name} get the {v}?", "When did {name} buy the {v}?"),
        (
            "The {v} needs a service soon.",
            "Washed the {v} today.",
            "The {v} made a weird noise on the motorway.",
        ),
    ),
    Kind(
        "sport",
        _same(
            "the Ravens",
            "the Harbour Kings",
            "the Red Foxes",
            "the Millers",
            "the Blue Herons",
            "the Iron Stags",
            "the Tigers of Elm Park",
            "the Northern Owls",
        ),
        (
            "I support {v}.",
            "I'm a die-hard fan of {v}.",
            "My team is {v}.",
            "I follow {v} every season.",
            "Season ticket holder for {v}.",
            "I cheer for {v}.",
        ),
        (
            "I switched allegiance to {v}, {old} broke my heart.",
            "I'm a fan of {v} now.",
            "I don't follow {old} anymore, it's {v} for me.",
            "Got my season ticket for {v} this year.",
            "My team is {v} now.",
            "I support {v} these days.",
            "Converted: I'm cheering for {v} now.",
        ),
        ("Which team does {name} support now?", "What team is {name} a fan of these days?"),
        ("Which team did {name} support before?", "What was {name}'s team before?"),
        ("When did {name} start supporting {v}?", "When did {name} become a fan of {v}?"),
        (
            "Did you see {v} lost again?",
            "{v} play on Sunday, fingers crossed.",
            "What a game from {v} last night!",
        ),
    ),
    Kind(
        "study",
        _same(
            "law",
            "marine biology",
            "accounting",
            "art history",
            "nursing",
            "mechanical engineering",
            "linguistics",
            "graphic design",
        ),
        (
            "I'm studying {v} part-time.",
            "I'm doing a course in {v}.",
            "My degree is in {v}, still going.",
            "I take evening classes in {v}.",
            "{v} is what I'm studying.",
            "I'm a {v} student.",
        ),
        (
            "I dropped {old} and I'm studying {v} now.",
            "I switched my course to {v}.",
            "I'm doing {v} these days instead of {old}.",
            "Changed my major: {v}.",
            "I enrolled in {v} this term.",
            "I'm a {v} student now.",
            "My studies are in {v} now.",
        ),
        ("What is {name} studying now?", "Which subject does {name} study at the moment?"),
        ("What did {name} study before?", "What was {name}'s subject before the switch?"),
        ("When did {name} start studying {v}?", "When did {name} switch to {v}?"),
        (
            "So much reading for {v} this week.",
            "My {v} exam is coming up.",
            "I had a {v} seminar this morning.",
        ),
    ),
    Kind(
        "phone",
        _same("Pixel", "iPhone", "Fairphone", "Galaxy", "Nokia", "Xperia"),
        (
            "I use a {v}.",
            "My phone is a {v}.",
            "I've had a {v} for years.",
            "I'm a {v} user.",
            "I'm on a {v}.",
        ),
        (
            "I switched from the {old} to a {v}.",
            "New phone: a {v}.",
            "I've got a {v} now.",
            "I'm using a {v} these days.",
            "I replaced my {old} with a {v}.",
            "My phone now is a {v}.",
        ),
        ("What phone does {name} use now?", "Which phone does {name} have these days?"),
        ("What phone did {name} use before?", "Which phone did {name} have before?"),
        ("When did {name} get the {v}?", "When did {name} switch to the {v}?"),
        (
            "My {v} keeps freezing.",
            "Dropped my {v}, the screen survived.",
            "The battery on my {v} is awful.",
        ),
    ),
)

PEOPLE = (
    "Ines",
    "Tomasz",
    "Aylin",
    "Bruno",
    "Freya",
    "Kofi",
    "Leonie",
    "Matteo",
    "Niamh",
    "Oskar",
    "Priya",
    "Ruben",
    "Saoirse",
    "Teodor",
    "Wanjiru",
    "Yusuf",
    "Zofia",
    "Elif",
    "Dmitri",
    "Greta",
    "Hamish",
    "Ingrid",
    "Joaquin",
    "Katja",
)
FRIENDS = (
    "Alex",
    "Sam",
    "Robin",
    "Jamie",
    "Charlie",
    "Morgan",
    "Taylor",
    "Jordan",
    "Casey",
    "Riley",
    "Quinn",
    "Avery",
)

# Small talk, most of it in the first person (so no rule on "I" and "my" tells it from a fact).
PERSON_FILLER = (
    "Morning! How's your week going?",
    "Ugh, Mondays. I need more coffee.",
    "I slept terribly last night.",
    "Did you watch the match on Saturday?",
    "I'm so tired today, honestly.",
    "Just got back from the supermarket, it was packed.",
    "The weather has been all over the place.",
    "I burnt the toast again this morning, classic me.",
    "I finally finished that book you lent me.",
    "Have you seen the new series everyone is talking about?",
    "I had the weirdest dream last night.",
    "I'm thinking of getting a haircut this week.",
    "My inbox is a disaster right now.",
    "I went for a long walk at lunchtime, it helped.",
    "Ha, that's hilarious.",
    "Totally agree with you there.",
    "I can't believe it's almost the weekend already.",
    "I tried that recipe you sent, it was great!",
    "My neighbour's music was loud again last night.",
    "I lost my keys for the third time this week.",
    "I'm stuck on the crossword today.",
    "I saw a fox in the street on my way home!",
    "I need a holiday, seriously.",
    "Traffic was awful this morning.",
    "I think I'm coming down with a cold.",
    "I bought way too many snacks, whoops.",
    "Just had the best sandwich.",
    "I cleaned the whole kitchen today, feeling productive.",
    "Ooh, tell me more!",
    "That sounds amazing.",
    "I'm watching a documentary about octopuses, they're so clever.",
    "My phone battery dies so fast lately.",
    "Honestly, I have no idea what to cook tonight.",
    "I spent all evening sorting out old photos.",
    "I finally fixed the squeaky door.",
    "I forgot my umbrella and got soaked.",
    "Long day, but a good one.",
    "I had a nice chat with my mum on the phone.",
    "I'm trying to drink more water.",
    "I stayed up way too late again.",
    "I've been listening to a great podcast about history.",
    "The train was late, as usual.",
    "I treated myself to a cake today.",
    "I'm so behind on my emails.",
    "I went to a friend's birthday party last night.",
    "Haha yes, exactly!",
    "Oh no, that's annoying.",
    "I feel like this week has lasted a month.",
    "I found a nice little café near the station.",
    "I'm going to bed early tonight, I promise.",
    "I watched the sunset from the bridge, it was gorgeous.",
    "I think I ate too much at lunch.",
    "The shop had run out of bread, can you believe it.",
    "I've been humming that song all day.",
    "I'm not a morning person, clearly.",
    "I did a bit of tidying and found twenty euros in a coat.",
    "Sorry for the slow reply, it's been hectic.",
    "What are you up to this weekend?",
    "How did your thing go yesterday?",
    "I have a dentist appointment tomorrow, not looking forward to it.",
    "I'm so glad it's Friday.",
    "I saw the funniest video of a goat earlier.",
    "My plants are finally growing again.",
    "I wrote a to-do list and then ignored it.",
    "I'm trying to get better at replying to messages.",
    # the words questions use, in talk that states nothing lasting
    "Work was chaos today.",
    "I need to wash the car this weekend.",
    "My phone is on 3% again.",
    "I should really eat better.",
    "Do you think pets can tell when you're sad?",
    "I need a new hobby for the winter, any ideas?",
    "Our team at work had a long meeting.",
    "I can't live without my morning coffee.",
    "Studying anything after 9pm is impossible for me.",
    "The job market is wild right now.",
    "I read an article about diets, it was all nonsense.",
    "Where would you live if you could pick anywhere?",
    "My commute to work was weirdly quiet.",
    "I keep getting ads for cars I'll never buy.",
    "Who do you think will win the league this year?",
)
FRIEND_FILLER = (
    "Ha, same here.",
    "Oh nice, how was it?",
    "That's brilliant!",
    "Ugh, I feel you.",
    "No way! Tell me everything.",
    "Sounds like a good day.",
    "Haha, classic.",
    "Oh no, hope you feel better soon.",
    "I'm good, busy week though.",
    "Did you? That's great.",
    "Fair enough.",
    "I watched it too, what a finish!",
    "Love that for you.",
    "Same old, same old over here.",
    "Honestly, I need a holiday too.",
    "That's so you.",
    "Ooh, send me the link.",
    "I had pasta again, living the dream.",
    "Get some rest!",
    "I'm jealous, that sounds lovely.",
    "Wow, really?",
    "Haha, you're hilarious.",
    "Let's catch up properly soon.",
    "My week has been chaos.",
    "Yes! Finally.",
    "I went to the gym, I'm dying now.",
    "I can't believe how fast this year is going.",
    "That's a lot, take it easy.",
    "Good for you!",
    "I've been meaning to ask you about that.",
    "Right? It's ridiculous.",
    "I just got back from a run.",
    "Aww, that's sweet.",
    "Oh, I've heard good things about that.",
    "My cousin said the same thing.",
    "Not much new with me, to be honest.",
    "Hah, I'd have done the same.",
)
REACTIONS = (
    "Oh wow, that's a big change!",
    "Congrats! How does it feel?",
    "No way, since when?",
    "That's huge news!",
    "Oh nice, I didn't see that coming.",
    "Good for you, honestly.",
    "How are you finding it so far?",
    "Wait, really? Tell me more.",
)


def _split(kind: Kind) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The kind's state and change wordings in two halves (train, test), drawn once with a
    fixed seed: the same split for every run whatever --seed is."""
    out = {}
    for field in ("states", "changes"):
        items = list(getattr(kind, field))
        random.Random(f"split-{kind.name}-{field}").shuffle(items)
        half = (len(items) + 1) // 2
        out[field] = (tuple(items[:half]), tuple(items[half:]))
    return out


@dataclass
class _Plan:
    kind: Kind
    values: list[tuple[str, str]]  # the person's values over time, oldest first
    sessions: list[int]  # the session each value was stated in


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fill(template: str, v: str, old: str = "") -> str:
    text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", template.format(v=v, old=old))
    return _capital(text)


def _change_sessions(rng: random.Random, first: int, changes: int, n_sessions: int) -> list[int]:
    """Sessions for `changes` changes after `first`, spread over the rest of a long thread
    (at least two sessions apart where there is room), not crowded at its end."""
    room = list(range(first + 2, n_sessions))
    if len(room) < changes:
        return [min(first + 2 + n, n_sessions - 1) for n in range(changes)]
    picked = sorted(rng.sample(room, changes))
    for n in range(1, len(picked)):
        picked[n] = min(max(picked[n], picked[n - 1] + 2), n_sessions - 1)
    return picked


def make_thread(rng: random.Random, index: int, split: str, scale: int = 1) -> dict[str, Any]:
    """One thread in LoCoMo's layout, with its questions. `scale`: the thread is that many
    times longer (sessions, so also the time it spans), and each attribute changes up to
    `scale` times more often; at 1 the threads are those of earlier runs, draw for draw."""
    half = 0 if split == "train" else 1
    person = rng.choice(PEOPLE)
    friend = rng.choice(FRIENDS)
    n_sessions = rng.randint(16, 22) * scale
    day = dt.date(2025, 1, 6) + dt.timedelta(days=rng.randint(0, 300))
    days = []
    for _ in range(n_sessions):
        days.append(
            dt.datetime(
                day.year, day.month, day.day, rng.randint(8, 21), rng.choice((0, 15, 30, 45))
            )
        )
        day += dt.timedelta(days=rng.randint(2, 6))
    kinds = rng.sample(KINDS, rng.randint(4, 6))
    plans: list[_Plan] = []
    for kind in kinds:
        changes = 2 if rng.random() < 0.25 else 1
        if scale > 1:  # a longer life has more changes: some attributes change many times
            changes = min(len(kind.values) - 1, changes * rng.randint(1, scale))
        values = rng.sample(kind.values, changes + 1)
        first = rng.randint(0, n_sessions // 3)
        when = [first]
        if scale > 1:
            when += _change_sessions(rng, first, changes, n_sessions)
        else:
            for _ in range(changes):
                low = when[-1] + 2
                when.append(rng.randint(min(low, n_sessions - 1), n_sessions - 1))
        plans.append(_Plan(kind, values, when))
    # the friend's own values of some kinds: said in the same words, never the person's
    friend_says: list[tuple[int, str]] = []
    for kind in rng.sample(KINDS, 3):
        taken = {v for p in plans if p.kind is kind for v in p.values}
        free = [v for v in kind.values if v not in taken]
        if free:
            v = rng.choice(free)
            friend_says.append((rng.randrange(n_sessions), _fill(rng.choice(kind.states), v[0])))

    statements: dict[int, list[tuple[_Plan, int]]] = {}
    for plan in plans:
        for n, s in enumerate(plan.sessions):
            statements.setdefault(s, []).append((plan, n))
    conversation: dict[str, Any] = {"speaker_a": person, "speaker_b": friend}
    dia_of: dict[tuple[str, int], str] = {}
    for s in range(n_sessions):
        turns: list[tuple[str, str, tuple[str, int] | None]] = []
        n_small = rng.randint(8, 13)  # exchanges of small talk
        facts = statements.get(s, [])
        slots_for_facts = sorted(rng.sample(range(1, n_small + 1), min(len(facts), n_small)))
        fact_at = dict(zip(slots_for_facts, facts))
        for k in range(n_small + 1):
            if k in fact_at:
                plan, n = fact_at[k]
                split_words = _split(plan.kind)
                if n == 0:
                    template = rng.choice(split_words["states"][half])
                    line = _fill(template, plan.values[0][0])
                else:
                    template = rng.choice(split_words["changes"][half])
                    line = _fill(template, plan.values[n][0], plan.values[n - 1][0])
                if rng.random() < 0.5:  # inside a longer message, as people write
                    line = (
                        f"{rng.choice(PERSON_FILLER)} {line}"
                        if rng.random() < 0.5
                        else f"{line} {rng.choice(PERSON_FILLER)}"
                    )
                turns.append((person, line, (plan.kind.name, n)))
                turns.append(
                    (friend, rng.choice(REACTIONS) if n else rng.choice(FRIEND_FILLER), None)
                )
            else:
                turns.append((person, _small_talk(rng, plans, s), None))
                turns.append((friend, rng.choice(FRIEND_FILLER), None))
        for said_in, line in friend_says:
            if said_in == s:
                turns.insert(rng.randrange(1, len(turns)), (friend, line, None))
        session = []
        for i, (speaker, text, fact) in enumerate(turns):
            dia = f"D{s + 1}:{i + 1}"
            turn = {"speaker": speaker, "dia_id": dia, "text": text}
            if fact is not None:
                dia_of[fact] = dia
                turn["fact"] = f"{fact[0]}:{fact[1]}"  # for --gates (bench memory reads past it)
            session.append(turn)
        conversation[f"session_{s + 1}"] = session
        conversation[f"session_{s + 1}_date_time"] = _when(days[s])

    qa = []
    for plan in plans:
        kind, name = plan.kind, plan.kind.name
        last = len(plan.values) - 1
        now_v, before_v = plan.values[last], plan.values[last - 1]
        changed = days[plan.sessions[last]]
        common = {
            "kind": name,
            "current": now_v[1],
            "old": [v[1] for v in plan.values[:last]],
            "previous": before_v[1],
            "changed_on": changed.strftime("%Y-%m-%d"),
            "split": split,
        }
        qa.append(
            {
                "question": rng.choice(kind.now_questions).format(name=person),
                "answer": now_v[1],
                "evidence": [dia_of[(name, last)]],
                "category": 1,
                "type": "current",
                **common,
            }
        )
        qa.append(
            {
                "question": rng.choice(kind.before_questions).format(name=person),
                "answer": before_v[1],
                "evidence": [dia_of[(name, last - 1)]],
                "category": 2,
                "type": "previous",
                **common,
            }
        )
        qa.append(
            {
                "question": rng.choice(kind.when_questions).format(
                    name=person, v=now_v[0].removeprefix("a ").removeprefix("an ")
                ),
                "answer": changed.strftime("%-d %B %Y"),
                "evidence": [dia_of[(name, last)]],
                "category": 3,
                "type": "when",
                **common,
            }
        )
    return {"sample_id": f"updates-{split}-{index}", "conversation": conversation, "qa": qa}


def _small_talk(rng: random.Random, plans: list[_Plan], session: int) -> str:
    """Small talk; now and then a value of the person's life in passing: the one that holds
    at this point (the old city before the move), or after a change, one that no longer
    does ("Sometimes I miss Utrecht")."""
    held = [
        (p, max(n for n, s in enumerate(p.sessions) if s < session))
        for p in plans
        if p.sessions[0] < session
    ]
    roll = rng.random()
    if held and roll < 0.12:
        plan, n = rng.choice(held)
        if plan.kind.mentions:
            return _fill(rng.choice(plan.kind.mentions), plan.values[n][0])
    if held and roll < 0.16:
        plan, n = rng.choice(held)
        if n > 0 and plan.kind.name in ("home", "hobby"):
            return f"Sometimes I miss {plan.values[n - 1][0]}."
    return rng.choice(PERSON_FILLER)


def _when(moment: dt.datetime) -> str:
    """LoCoMo's date line: '7:05 pm on 8 May, 2025'."""
    hour = moment.strftime("%I").lstrip("0")
    return (
        f"{hour}:{moment.strftime('%M %p').lower()} "
        f"on {moment.day} {moment.strftime('%B')}, {moment.year}"
    )


def generate(
    seed: int, threads: int, splits: tuple[str, ...] = ("train", "test"), scale: int = 1
) -> list[dict[str, Any]]:
    """`threads` threads per split, the same for the same seed (and scale)."""
    out = []
    for split in splits:
        rng = random.Random(f"{seed}-{split}")
        out.extend(make_thread(rng, i, split, scale) for i in range(threads))
    return out


def _has(text: str, value: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text, re.IGNORECASE) is not None


_EARLIER = re.compile(r"\bearlier\b", re.IGNORECASE)


def _slot_current(slot_text: str) -> str:
    """The slot lines without what they say held earlier (rendered "…; earlier: …")."""
    return "\n".join(_EARLIER.split(line)[0] for line in slot_text.splitlines())


def score(row: dict[str, Any], qa: dict[str, Any]) -> dict[str, float | None]:
    """One question's figures from its dumped context."""
    context = row["context"]
    slots = "\n".join(p["text"] for p in row["parts"] if p["kind"] == "slots")
    current = _has(context, qa["current"])
    old = any(_has(context, v) for v in qa["old"])
    out: dict[str, float | None] = {
        "current": None,
        "stale_only": None,
        "in_slot": None,
        "previous": None,
        "date": None,
    }
    if qa["type"] == "current":
        out["current"] = float(current)
        out["stale_only"] = float(old and not current)
        out["in_slot"] = float(_has(_slot_current(slots), qa["current"]))
    elif qa["type"] == "previous":
        out["previous"] = float(_has(context, qa["previous"]))
    else:
        day = dt.date.fromisoformat(qa["changed_on"])
        out["date"] = float(f"{day.day} {day.strftime('%B')}" in context)
    return out


def gates(data: list[dict[str, Any]], verbose: bool = False) -> dict[str, dict[str, list[float]]]:
    """The slot path alone, in seconds rather than the tens of minutes of the full run:
    each thread's user messages go through the same candidates, judge and gates as
    MemoryService.ingest (a real store; message vectors are not made, recall is not
    built), and the slots at the end are read. Per current value: held (in a slot as
    current), stale (a slot holds an old value as current, without the new one); per
    thread: slots that no statement of the generator fed (small talk kept as a fact).
    `verbose` prints each thread's statements, what became of them, and the final slots."""
    import time

    from chatapp.bench.memory import is_user, sessions, turn_text
    from chatapp.domain import Role
    from chatapp.memory import facts
    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import IngestReport, MemoryService
    from chatapp.store import Store

    embedder = shared_embedder()
    seen: dict[str, Any] = {}

    def encode(texts: list[str]) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in seen]
        if todo:
            seen.update(zip(todo, embedder.encode(todo)))
        return np.stack([seen[t] for t in texts]) if texts else embedder.encode([])

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="chatapp-updates-gates-") as tmp:
        for sample in data:
            split = sample["qa"][0]["split"]
            store = Store.open(Path(tmp) / f"{sample['sample_id']}.sqlite3")
            service = MemoryService(store, encode, embedder.name)
            thread = store.create_thread(sample["sample_id"])
            conv = sample["conversation"]
            tag: dict[int, str] = {}
            for _n, when, session in sessions(conv):
                found: list[facts.Candidate] = []
                created: dict[int, float] = {}
                for i, turn in enumerate(session):
                    user = is_user(turn, conv)
                    role = Role.USER if user else Role.ASSISTANT
                    at = when + 30 * i
                    msg = store.add_message(thread.id, role, turn_text(turn), created_at=at)
                    if not user:
                        continue
                    created[msg.id] = at
                    tag[msg.id] = turn.get("fact", "")
                    found.extend(facts.candidates(msg.content, msg.id, by_meaning=True))
                if not found:
                    continue
                if verbose:
                    readings = service.attributes.read(encode([c.text for c in found]))
                    for c, r in zip(found, readings):
                        if tag[c.source_id]:
                            print(
                                f"  [{tag[c.source_id]}] {r.attribute} conf {r.confidence:.2f} "
                                f"sim {r.similarity:.2f} fact {r.fact:.2f}  {c.text}"
                            )
                actions = IngestReport()
                service._write_facts(
                    thread.id, found, lambda c, m=created: m[c.source_id], actions, judge=True
                )
            slots = service.tables.slots(thread.id)
            group = results.setdefault(split, {})
            chatter = [s for s in slots if not any(tag.get(m) for m in s.sources)]
            group.setdefault("chatter_slots", []).append(float(len(chatter)))
            group.setdefault("slots", []).append(float(len(slots)))
            for qa in sample["qa"]:
                if qa["type"] != "current":
                    continue
                held = any(_has(s.text, qa["current"]) for s in slots)
                # a change statement names the old value too ("I sold the Panda and bought…")
                stale = any(
                    _has(s.text, v) and not _has(s.text, qa["current"])
                    for s in slots
                    for v in qa["old"]
                )
                for key, value in (("held", held), ("stale", stale)):
                    group.setdefault(key, []).append(float(value))
                    results.setdefault(qa["kind"], {}).setdefault(key, []).append(float(value))
                if verbose and (not held or stale):
                    print(f"MISS {qa['kind']}: now {qa['current']!r}, before {qa['old']}")
            if verbose:
                print(f"{sample['sample_id']}: slots at the end")
                for s in slots:
                    past = " | ".join(h.text for h in s.history)
                    print(f"  {s.attribute or '-':10} {s.text}" + (f"   <- {past}" if past else ""))
                print(time.strftime("%H:%M:%S"))
            store.close()
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chatapp.bench updates")
    parser.add_argument(
        "--threads", type=int, default=10, help="threads per split (train and test)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        help="each thread N times longer (sessions, months), attributes changing more often",
    )
    parser.add_argument("--budget", type=int, default=2048, help="tokens for the memory part")
    parser.add_argument(
        "--model", metavar="GGUF", help="as for bench memory (default: the built-in SmolLM2)"
    )
    parser.add_argument("--split", choices=["train", "test", "both"], default="both")
    parser.add_argument(
        "--save", metavar="PATH", help="also write the generated threads (LoCoMo layout)"
    )
    parser.add_argument(
        "--dump", metavar="PATH", help="one JSON line per question: its context and figures"
    )
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--vectors", metavar="DIR", help="as for bench memory: message vectors kept between runs"
    )
    parser.add_argument(
        "--gates",
        action="store_true",
        help="the slot path alone (no recall, no context): held / stale per value",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="with --gates: each statement and the slots"
    )
    args = parser.parse_args(argv)

    from chatapp.bench import memory

    splits = ("train", "test") if args.split == "both" else (args.split,)
    if args.scale < 1:
        parser.error("--scale must be 1 or more")
    data = generate(args.seed, args.threads, splits, args.scale)
    if args.gates:
        got = gates(data, args.verbose)
        keys = ["held", "stale", "slots", "chatter_slots"]

        def cell(values: list[float] | None, key: str) -> str:
            if not values:
                return "-"
            mean = statistics.mean(values)
            return f"{mean:.1f}" if key in ("slots", "chatter_slots") else f"{100 * mean:.1f}%"

        print(
            table(
                f"updates --gates: the slots after ingest ({args.threads} threads per split, "
                f"seed {args.seed}, scale {args.scale}×)",
                ["split / kind", "current held", "old as current", "slots", "chatter slots", "n"],
                [
                    [g, *(cell(got[g].get(k), k) for k in keys), len(got[g].get("held", []))]
                    for g in [*splits, *(k.name for k in KINDS)]
                    if g in got
                ],
            )
        )
        write_json(args.json, {g: {k: statistics.mean(v) for k, v in got[g].items()} for g in got})
        return 0
    by_question = {(s["sample_id"], q["question"]): q for s in data for q in s["qa"]}
    with tempfile.TemporaryDirectory(prefix="chatapp-updates-bench-") as tmp:
        data_path = Path(tmp) / "updates.json"
        data_path.write_text(json.dumps(data), encoding="utf-8")
        if args.save:
            Path(args.save).write_text(json.dumps(data, indent=1), encoding="utf-8")
        dump_path, figures_path = Path(tmp) / "dump.jsonl", Path(tmp) / "memory.json"
        bench_args = [
            "--data",
            str(data_path),
            "--budget",
            str(args.budget),
            "--dump",
            str(dump_path),
            "--json",
            str(figures_path),
        ]
        if args.model:
            bench_args += ["--model", args.model]
        if args.vectors:
            bench_args += ["--vectors", args.vectors]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            memory.main(bench_args)
        rows = [json.loads(line) for line in dump_path.read_text(encoding="utf-8").splitlines()]
        memory_figures = json.loads(figures_path.read_text(encoding="utf-8"))

    results: dict[str, dict[str, list[float]]] = {}
    dumped = []
    for row in rows:
        qa = by_question[(row["sample_id"], row["question"])]
        got = score(row, qa)
        for key, value in got.items():
            if value is not None:
                results.setdefault(qa["split"], {}).setdefault(key, []).append(value)
                results.setdefault(f"{qa['kind']}", {}).setdefault(key, []).append(value)
        dumped.append({**row, "expected": qa, "scores": got})
    if args.dump:
        Path(args.dump).write_text(
            "".join(json.dumps(item) + "\n" for item in dumped), encoding="utf-8"
        )

    def pct(values: list[float] | None) -> str:
        return "-" if not values else f"{100 * statistics.mean(values):.1f}%"

    columns = ["current", "stale_only", "in_slot", "previous", "date"]
    figures: dict[str, Any] = {
        "budget": args.budget,
        "seed": args.seed,
        "scale": args.scale,
        "threads_per_split": args.threads,
        "questions": len(rows),
        "model": memory_figures.get("model"),
        "build_ms_p50": memory_figures.get("build_ms_p50"),
        "build_ms_p95": memory_figures.get("build_ms_p95"),
        "ingest_ms_per_turn": memory_figures.get("ingest_ms_per_turn"),
        "evidence_recall": memory_figures.get("evidence_recall"),
    }
    table_rows = []
    for group in [*splits, *(k.name for k in KINDS)]:
        if group not in results:
            continue
        got = results[group]
        figures[group] = {c: (statistics.mean(got[c]) if got.get(c) else None) for c in columns}
        table_rows.append([group, *(pct(got.get(c)) for c in columns), len(got.get("current", []))])
    print(
        table(
            f"updates: facts that change, @{args.budget} tokens "
            f"({len(rows)} questions, {args.threads} threads per split, "
            f"seed {args.seed}, scale {args.scale}×)",
            ["split / kind", "current", "stale-only", "in a slot", "previous", "date", "n"],
            table_rows,
        )
    )
    print(
        f"\ncontext build p50 {figures['build_ms_p50']:.1f} ms, "
        f"p95 {figures['build_ms_p95']:.1f} ms; "
        f"ingest {figures['ingest_ms_per_turn']:.1f} ms/turn "
        f"(bench memory's figures for these threads)"
    )
    write_json(args.json, figures)
    return 0
