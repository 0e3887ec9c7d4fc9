"""Candidate durable facts from what the user writes.

Small models cannot be trusted to extract facts, so this is a rule-based first
pass: sentences in the first person (or about someone close: "my sister...")
that state something lasting — who, where, work, likes, plans, dates — and are
not questions. Each candidate keeps the id of its source message. One statement about
several attributes is one candidate per attribute ("I live in Lyon and work as a baker"),
so that a later change of one replaces that one alone; a change that names no value ("we
moved last week") is none. A capitalised first word is someone's name only when it is no
determiner and no preposition follows it: "These days it's all rowing" and "Rent in Lyon
keeps going up" are the user's, not facts about "these" and "rent" in slots of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatapp.memory.attributes import opens_with_change, says_change
from chatapp.words import SENTENCE

_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|im|my|me|mine|we|we're|our)\b", re.IGNORECASE)
_DURABLE = re.compile(
    r"\b(am|is|are|was|live[sd]?|living|moved|move|work(?:s|ed|ing)?|job|born|from|name|called|"
    r"like[sd]?|love[sd]?|hate[sd]?|prefer(?:s|red)?|favou?rite|enjoy(?:s|ed)?|allergic|married|"
    r"divorced|single|have|has|had|own|got|bought|started|joined|graduated|studying|study|"
    r"plan(?:s|ning|ned)?|going to|will|want(?:s|ed)?|hope|birthday|years? old|adopted|"
    r"play(?:s|ed|ing)?|vegetarian|vegan|son|daughter|wife|husband|partner|kids?|children|"
    r"pets?|dog|cat|drive[sn]?|speak(?:s|ing)?|collect(?:s|ing)?|volunteer(?:s|ed|ing)?|"
    r"teach(?:es|ing)?|run(?:s|ning)? (?:a|an|my)|"
    r"usually|always|every (?:day|week|weekend|morning|evening|year))\b",
    re.IGNORECASE,
)
# a request to the listener ("Tell me about Lisbon.", "Please write a poem about my dog"): asked
# of the assistant, not said about anyone ("Remember that I'm allergic to nuts" is a fact)
_REQUEST = re.compile(
    r"^(?:please\s+|(?:can|could|would|will) you\s+|pls\s+)?"
    r"(?:tell|give|explain|describe|write|list|recommend|suggest|translate|summari[sz]e|compare|"
    r"find|draft|compose|generate|create|rewrite|rephrase|define|outline)\b"
    r"|^(?:please\s+)?(?:help|show|teach) (?:me|us)\b",
    re.IGNORECASE,
)
# a request that also states something ("Suggest a gift for my wife, she loves gardening")
_STATED_TOO = re.compile(
    r"[,;:]\s+(?:I|I'm|I've|my|My|we|We|we're|our|Our|she|She|he|He|they|They)\b"
    r"\s*(?:'s|'re|'m|\w+)"
)
_FILLER = re.compile(r"^(thanks|thank you|ok|okay|sure|yes|no|bye|lol|haha)\b", re.IGNORECASE)
_GREETING = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening))(\s+there)?\s*[,!.]*\s*", re.IGNORECASE
)
_RELATION = re.compile(
    r"\bmy\s+(sister|brother|mother|mom|mum|father|dad|wife|husband|partner|boyfriend|girlfriend|"
    r"son|daughter|friend|boss|colleague|dog|cat|kids?|children|parents|grandma|grandpa|aunt|uncle|"
    r"cousin|roommate|neighbou?r)\b",
    re.IGNORECASE,
)
_SPEAKER = re.compile(r"^[A-Z][\w'-]*(?: [A-Z][\w'-]*)?:\s+")
_VAGUE = re.compile(r"\b(it|them|this|these|those|that one|there|so|such)\b", re.IGNORECASE)
# an exclamation of at most this many words ("New car!", "Big news!") and a fragment as short
# after it are read as one sentence (see _with_lead_ins)
LEAD_IN_WORDS = 3
SHORT_NEWS = 12  # words: news without a pronoun is said briefly, not in a pasted article
# someone else the sentence is about ("She's doing pottery now", "Their new flat is tiny")
_THIRD_PERSON = re.compile(
    r"\b(he|she|they|him|her|them|his|hers|their|he's|she's|they're)\b", re.IGNORECASE
)
_YOU = re.compile(r"\b(you|your|you're|you've|you'll|yours|yourself)\b", re.IGNORECASE)
# a name the sentence is said to ("Thanks, Gina!", "Mel, look"), not one it is about
_VOCATIVE = re.compile(r",\s*[A-Z][a-z]+(?=\s*[.!?]*$)|^[A-Z][a-z]+(?=,)")
_NAME_SUBJECT = re.compile(r"^([A-Z][a-z]+)\b(?!\s*(?:is a|was a)\b)")
# a sentence's first word that is a verb or a heading, not someone's name ("Met someone: …")
# or an adverb that opens one's own news ("Not doing pottery anymore", "Finally vegan")
_NOT_A_NAME = re.compile(
    r"(?:ed|ing)$|^(?:Meet|Met|New|Big|Got|Just|Said|Since|From|After|Today|Not|Never|Still|"
    r"Finally|Recently|Currently|Nowadays|Lately|Honestly|Actually|Officially|Sadly|Anyway)$"
)
_STOP_NAMES = {
    "The",
    "This",
    "That",
    "It",
    "There",
    "What",
    "When",
    "Where",
    "Why",
    "How",
    "And",
    "But",
    "So",
}
# capitalised after a colon or a dash, but no name ("Update: It works", "Mel: We did")
_NOT_SPECIFIC = _STOP_NAMES | {
    "He",
    "She",
    "They",
    "We",
    "You",
    "My",
    "Our",
    "Your",
    "His",
    "Her",
    "Their",
    "Its",
    "These",
    "Those",
    "Yes",
    "No",
    "Oh",
    "Wow",
    "Thanks",
    "Hey",
    "Hi",
    "Hello",
    "Yeah",
    "Sure",
    "Just",
    "Also",
    "Then",
    "Now",
}


# a sentence's first word that is no one's name: a determiner ("These days it's all rowing"),
# or a noun a preposition or a plural's verb follows ("Rent in Lyon keeps going up", "Weekends
# are for archery now"): a person who is the subject is followed by what they do, not by "in"
_DETERMINERS = {"A", "An", "Some", "All", "Every", "Each", "Both", "Another", "Any", "Most", "Many"}
_THEN_NO_PERSON = re.compile(r"\s+(?:in|at|on|of|for|near|around|about|are|were)\b")


@dataclass(frozen=True)
class Candidate:
    text: str
    owner: str  # "user", a relation ("sister") or a name
    source_id: int
    score: float
    position: int = 0  # its sentence's place in the message: a later clause is the newer word


# a semicolon always ends a statement ("Handed in my notice; from Monday I'm a translator")
_CLAUSE = re.compile(r";\s+|(?:,?\s+(?:and|but)\s+|:\s+|,\s+)(?=(?:I|I'm|I've|my|My|we|We)\b)")


# a clause that leans on the next one: "After Clover passed away, we got Mochi" is one fact
_LEANS = re.compile(
    r"^(?:[A-Z][\w'-]*:\s+)?"
    r"(?:after|since|when|back when|because|although|though|if|before|once|while|as|until)\b",
    re.IGNORECASE,
)


# a second verb of the same "I" that states another attribute: "I live in Lyon and work as a
# baker", "I'm 41, a pharmacist, and drive a van"
_SHARED_SUBJECT = re.compile(
    r"(?:,\s*and\s+|\s+and\s+|,\s+)(?=(?:live|work|teach|study|speak|drive|own|have(?! been)|play|"
    r"run|coach|volunteer|am|'m|go by)\b)",
    re.IGNORECASE,
)
_SUBJECT = re.compile(r"^(?:[A-Z][\w'-]*:\s+)?(I|I'm|I am)\s+(.*)$")
_AGE = re.compile(r"^I(?:'m| am) \d{1,3}(?: years old)?,")
_APPOSITION = re.compile(r",\s+(?=(?:a|an)\s+[a-z])")


def _split_subject(clause: str) -> list[str]:
    """One "I" with two attributes, as two statements that each read on their own ("I live
    in Lyon and work as a baker" → "I live in Lyon." "I work as a baker."). Left whole where
    a part would be too short to be a fact ("I work and study at night")."""
    found = _SUBJECT.match(clause)
    if not found:
        return [clause]
    pronoun = found.group(1)
    parts = [p.strip(" ,") for p in _SHARED_SUBJECT.split(clause)]
    if _AGE.match(parts[0]):  # "I'm 41, a pharmacist": the apposition is a second "I'm"
        parts = [q.strip(" ,") for p in parts for q in _APPOSITION.split(p)]
    if len(parts) < 2:
        return [clause]
    out = [parts[0]]
    for part in parts[1:]:
        if part.lower().startswith(("am ", "'m ")):
            out.append("I'm " + part.split(None, 1)[1] if " " in part else part)
        elif part.lower().startswith(("a ", "an ")):
            out.append(f"{pronoun} {part}")
        else:
            out.append(f"I {part}")
    if any(len(p.split()) < (2 if any(c.isdigit() for c in p) else 3) for p in out):
        return [clause]
    return out


def _with_lead_ins(pieces: list[str | None]) -> list[str]:
    """The sentences, a fragment joined to the short exclamation that leads into it ("New car!
    A Fiat Panda.", "Big news! Moving to Oslo."): the news is said in two pieces, and "A Fiat
    Panda." alone says nothing about whose car, or that it is one. Both must be short
    (LEAD_IN_WORDS): a whole sentence after "Mel!" or "Yeah, definitely!" says what it says
    alone, and joined, a greeting made small talk read as news."""
    texts = [t for t in ((p or "").strip() for p in pieces) if t]
    out: list[str] = []
    for text in texts:
        if (
            out
            and out[-1].endswith("!")
            and len(out[-1].split()) <= LEAD_IN_WORDS
            and len(text.split()) <= LEAD_IN_WORDS
            and not text.endswith("?")
        ):
            out[-1] = f"{out[-1]} {text}"
        else:
            out.append(text)
    return out


def sentences(text: str) -> list[str]:
    """Sentences, with clauses that start a new first-person statement split off
    ("My name is Ada and I live in Berlin" gives two facts), and one "I" with two
    attributes made two statements ("I live in Lyon and work as a baker")."""
    out = []
    for sentence in _with_lead_ins(SENTENCE.split(text)):
        clauses: list[str] = []
        for clause in _CLAUSE.split(sentence or ""):
            clause = clause.strip()
            joined = (
                re.search(
                    re.escape(clauses[-1]) + r"(\s+(?:and|but)\s+)" + re.escape(clause), sentence
                )
                if (clauses and clause and len(clauses[-1].split()) < 4)
                else None
            )
            if clauses and clause and _LEANS.match(clauses[-1]):
                joined = re.search(re.escape(clauses[-1]) + r"(\W+)" + re.escape(clause), sentence)
            if joined:  # "Osvaldo and I just moved in" is one statement, not a name and a clause
                clauses[-1] = clauses[-1] + joined.group(1) + clause
            elif clause:
                clauses.append(clause)
        clauses = [part for c in clauses for part in _split_subject(c)]
        out.extend(c if c[-1] in ".!?" else c + "." for c in clauses if c)
    return out


# what a change is said with, when, and of what kind of thing, but not what it is now
_NO_VALUE_WORDS = """i im i'm me my mine we our us a an the and of to for with it its has have
    had am is are was were be been just finally recently officially last this past next week
    weeks weekend month months year years day days yesterday today ago earlier again back out
    over few couple two big news update so well anyway now moved move moving relocated changed
    change changing switched swapping swapped quit left leaving started starting new got job
    jobs career careers work house houses home place places flat apartment city town country
    school schools course courses team teams car cars phone phones plans"""
_NO_VALUE = set(_NO_VALUE_WORDS.split())


def names_no_value(sentence: str) -> bool:
    """A change that does not say what things are now ("We moved last week", "I changed jobs",
    "Big news: started a new job"): alone it is no fact to keep in a slot of its own, and it
    must not replace the value it changed."""
    if not says_change(sentence) or re.search(r"\d", sentence[1:]):
        return False
    body = _SPEAKER.sub("", sentence)
    if re.search(r"(?<!^)(?<![.!?:] )\b[A-Z][a-z]+", body.strip()):
        return False  # names the new value ("We moved to Ghent")
    return all(w in _NO_VALUE for w in re.findall(r"[a-z']+", body.lower()))


# what held once and no longer does: "I used to live in Ghent", "back when I worked at the
# bank", "Sometimes I miss Bruges" (one misses what one has left)
_PAST = re.compile(
    r"\b(?:used to|back when|back in the day|years ago|in my (?:teens|twenties|thirties|youth)|"
    r"as a (?:kid|child|teenager)|when I was (?:a |an )?(?:kid|child|teenager|young|little|"
    r"younger|student|at school|at uni)|formerly|once upon a time|(?:I|we) (?:really )?miss)\b",
    re.IGNORECASE,
)
# what holds now, said beside it: "I used to live in Ghent, now I'm in Lyon" states the present
_PRESENT = re.compile(
    r"\b(?:now|these days|nowadays|currently|at the moment|any ?more|no longer|instead|since)\b",
    re.IGNORECASE,
)


def about_the_past(sentence: str) -> bool:
    """A statement of what held once and holds no more ("I used to live in Ghent", "Back when
    I worked at the bank…", "Sometimes I miss Bruges"): no fact of the present to keep in a
    slot, and it must not push the present value of its attribute into history. One that also
    says what holds now ("I used to be a nurse, I teach now") is a change, not the past."""
    return bool(_PAST.search(sentence)) and not _PRESENT.search(sentence)


def owner_of(sentence: str) -> str:
    """Whom a fact is about: the user, someone close ("sister"), or a named person."""
    rel = _RELATION.search(sentence)
    if rel and rel.start() < 20:
        return rel.group(1).lower()
    if re.match(r"\s*(i|i'm|i've|i'd|i'll|my|we|we're|our)\b", sentence, re.IGNORECASE):
        return "user"
    if re.search(r"\b(?:I|I'm|I've|I'd|I'll|my|My|me|we|We|our|Our)\b", sentence):
        # "Picked up my Fiat from the dealer", "Archery has replaced rowing on my weekends":
        # a capitalised first word is no name of someone else when the sentence is one's own
        return "user"
    if re.search(r"\b[A-Z][a-z]+ and (?:I|me)\b", sentence):
        return "user"  # "Noor and I have been a couple": about the user too
    name = _NAME_SUBJECT.match(sentence)
    if (
        name
        and name.group(1) not in _NOT_SPECIFIC | _DETERMINERS
        and not _NOT_A_NAME.search(name.group(1))
        and not _THEN_NO_PERSON.match(sentence, name.end())
    ):
        return name.group(1).lower()
    return "user"


def candidates(
    text: str, source_id: int, *, speaker_is_user: bool = True, by_meaning: bool = False
) -> list[Candidate]:
    """Sentences of one message that look like durable facts, best first.

    `by_meaning`: the caller tells lasting facts from chatter with the sentence embedder
    (chatapp.memory.attributes), so the words a fact must use are not asked for here:
    "these days I'm based in Rotterdam" has none of them. The sentence must still be
    about someone (first person, someone close, or a name) and not a question, a vague
    reference or something said to the listener."""
    found: list[Candidate] = []
    for position, sentence in enumerate(sentences(text)):
        if by_meaning:
            # "Zofia: Haha yes, exactly!" (an imported transcript names who speaks): the name
            # made small talk read as a fact about a person, and every slot alike
            sentence = _SPEAKER.sub("", sentence)
        sentence = _GREETING.sub("", sentence)
        if sentence[:1].islower():
            sentence = sentence[0].upper() + sentence[1:]
        words = sentence.split()
        shortest = 2 if re.search(r"\d", sentence) else 3  # "I'm 34."
        if (
            len(words) < shortest
            or len(words) > 45
            or sentence.endswith("?")
            or _FILLER.match(sentence)
            or (_REQUEST.match(sentence) and not _STATED_TOO.search(sentence))
        ):
            continue
        # "New diet: fully vegan.", "Weekends are for archery now": one's own news needs no
        # pronoun when no one else is its subject
        first = bool(_FIRST_PERSON.search(sentence)) or (
            by_meaning
            and (
                opens_with_change(sentence)
                or (
                    says_change(sentence)
                    and len(words) <= SHORT_NEWS
                    and not _THIRD_PERSON.search(sentence)
                )
            )
        )
        durable = len(_DURABLE.findall(sentence))
        specifics = sum(
            w not in _NOT_SPECIFIC
            for w in re.findall(r"\b[A-Z][a-z]+|\b\d{1,4}\b", _VOCATIVE.sub("", sentence)[1:])
        )
        if not (first or specifics) or not (durable or by_meaning):
            continue
        if _VAGUE.search(sentence) and not specifics and not (by_meaning and says_change(sentence)):
            # "I'd love to check them out", "I want it": nothing to remember without its context
            continue
        if names_no_value(sentence):
            continue  # "We moved last week": a change whose new value, if any, is said elsewhere
        if about_the_past(sentence):
            continue  # "I used to live in Ghent": no value of the present
        if _YOU.search(sentence) and not specifics:
            continue  # said to the listener ("I hope you're okay", "Your faith in me is a boost")
        score = 1.0 * first + 0.5 * min(durable, 3) + 0.4 * min(specifics, 3)
        if speaker_is_user and (score >= 1.5 or by_meaning):
            found.append(Candidate(sentence, owner_of(sentence), source_id, score, position))
    return sorted(found, key=lambda c: -c.score)
