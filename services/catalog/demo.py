"""Demo data: categories, teachers, 36 courses of the three kinds with chapters and sections,
and 4 banners. Images are the JPEG and PNG files under web/media/ (served by the gateway at
/media/), drawn by services/catalog/demo_images.py."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import func, select

from services.catalog.adapters.orm import Banner, Chapter, Course, CourseCategory, Section, Teacher
from services.catalog.adapters.repository import SqlCatalogStore
from services.catalog.bootstrap import bootstrap, database
from services.catalog.settings import Settings

CATEGORIES = ["Python", "Linux 运维", "Python 进阶", "开发工具", "Go 语言", "机器学习", "技术生涯"]
TEACHERS = [
    ("Alex", 0, "Python 教学总监", "Code is read more than written."),
    ("Egon", 0, "资深讲师", "Small steps, every day."),
    ("Lily", 1, "学习导师", "Ask early, ask often."),
    ("Wang Wei", 2, "班主任", "We finish what we start."),
    ("Chen Jing", 0, "机器学习讲师", "Measure, then believe."),
]
BANNERS = [  # title, link (a web client route), info; image /media/banners/<n>.jpg
    ("Python 全栈", "/actual-course", "From zero to a shipped web app."),
    ("Linux 运维", "/actual-course?category=2", "Run real systems with confidence."),
    ("Go 语言", "/actual-course?category=5", "Fast, simple, concurrent."),
    ("Flash sale", "/seckill", "Limited seats at 9.90, live now."),
]
COVERS = 6  # web/media/courses/1.jpg ... 6.jpg
TOPICS = ["入门", "实战", "进阶", "项目", "面试", "原理"]
KIND_PRICES = {"free": [Decimal("0")], "actual": [Decimal("39.90"), Decimal("99.00"),
               Decimal("199.00"), Decimal("399.00")], "light": [Decimal("9.90"), Decimal("19.90")]}
SECTION_NAMES = ["环境搭建", "第一个程序", "变量与类型", "控制流程", "函数", "模块与包", "练习",
                 "小结"]


def _courses(category_ids: list[int], teacher_ids: list[int]) -> list[Course]:
    courses = []
    numbers = itertools.count(1)
    for kind in ("free", "actual", "light"):
        prices = itertools.cycle(KIND_PRICES[kind])
        for i in range(12):
            n = next(numbers)
            category = category_ids[n % len(category_ids)]
            courses.append(Course(
                name=f"{CATEGORIES[n % len(CATEGORIES)]} {TOPICS[i % len(TOPICS)]} {n}",
                kind=kind, course_img=f"/media/courses/{n % COVERS + 1}.jpg",
                course_type=0 if kind != "actual" else i % 3, level=i % 3, status=i % 3 // 2,
                brief=f"A {kind} course, lesson by lesson, with exercises.",
                period=7 * (1 + i % 4), students=(n * 37) % 500, price=next(prices),
                teacher_id=teacher_ids[n % len(teacher_ids)], course_category_id=category,
                orders=n,
            ))
    return courses


def _chapters(course: Course) -> list[Chapter]:
    chapters = []
    for number in range(1, 2 + course.id % 3):
        chapter = Chapter(course_id=course.id, chapter=number, orders=number,
                          name=f"第{number}章 {TOPICS[number]}",
                          summary="What this chapter covers, and why.")
        chapter.section_rows = [
            Section(name=f"第{s}节 {SECTION_NAMES[(number + s) % len(SECTION_NAMES)]}", orders=s,
                    section_type=(0, 1, 2, 2)[s % 4], section_link=f"vid-{course.id}-{number}-{s}",
                    duration=f"{5 + s * 3:02d}:{(s * 17) % 60:02d}",
                    free_trail=number == 1 and s <= 2)
            for s in range(1, 5)
        ]
        chapters.append(chapter)
    return chapters


async def load_demo_data(settings: Settings) -> bool:
    """Insert the demo rows once; False when the catalog already has courses. With Redis, a
    copy cached from other rows must not survive the new ones: the banner and page versions
    are replaced."""
    if not settings.redis_url:
        async with database(settings) as (_engine, store):
            return await _insert(store)
    async with bootstrap(settings) as runtime:
        loaded = await _insert(runtime.store)
        if loaded:
            await runtime.banners.invalidate()
            await runtime.pages.invalidate()
        return loaded


async def _insert(store: SqlCatalogStore) -> bool:
    async with store.sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Course)):
            return False
        categories = [CourseCategory(name=n, orders=i) for i, n in enumerate(CATEGORIES)]
        teachers = [
            Teacher(name=n, role=r, title=t, signature=s, orders=i,
                    image=f"/media/teachers/{i + 1}.png", brief=f"{n}: {t}.")
            for i, (n, r, t, s) in enumerate(TEACHERS)
        ]
        banners = [Banner(title=t, image=f"/media/banners/{i + 1}.jpg", link=link,
                          info=info, orders=i) for i, (t, link, info) in enumerate(BANNERS)]
        session.add_all([*categories, *teachers, *banners])
        await session.flush()
        courses = _courses([c.id for c in categories], [t.id for t in teachers])
        session.add_all(courses)
        await session.flush()
        for course in courses:
            chapters = _chapters(course)
            session.add_all(chapters)
            course.sections = course.pub_sections = sum(len(c.section_rows) for c in chapters)
    return True
