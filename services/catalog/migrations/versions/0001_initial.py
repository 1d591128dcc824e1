"""initial catalog tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 11:37:23.595069
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('catalog_banner',
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('image', sa.String(length=255), nullable=False),
    sa.Column('link', sa.String(length=255), nullable=False),
    sa.Column('info', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_banner'))
    )
    op.create_table('catalog_course_category',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_course_category')),
    sa.UniqueConstraint('name', name=op.f('uq_catalog_course_category_name'))
    )
    op.create_table('catalog_teacher',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('role', sa.SmallInteger(), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=255), nullable=True),
    sa.Column('image', sa.String(length=255), nullable=True),
    sa.Column('brief', sa.Text(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('role IN (0, 1, 2)', name=op.f('ck_catalog_teacher_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_teacher'))
    )
    op.create_table('catalog_course',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('course_img', sa.String(length=255), nullable=True),
    sa.Column('course_type', sa.SmallInteger(), nullable=False),
    sa.Column('brief', sa.Text(), nullable=True),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('pub_date', sa.Date(), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('attachment_path', sa.String(length=128), nullable=True),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.Column('sections', sa.Integer(), nullable=False),
    sa.Column('pub_sections', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('teacher_id', sa.Integer(), nullable=True),
    sa.Column('course_category_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('free', 'actual', 'light')", name=op.f('ck_catalog_course_kind')),
    sa.CheckConstraint('course_type IN (0, 1, 2)', name=op.f('ck_catalog_course_course_type')),
    sa.CheckConstraint('level IN (0, 1, 2)', name=op.f('ck_catalog_course_level')),
    sa.CheckConstraint('status IN (0, 1, 2)', name=op.f('ck_catalog_course_status')),
    sa.ForeignKeyConstraint(['teacher_id'], ['catalog_teacher.id'], name=op.f('fk_catalog_course_teacher_id_catalog_teacher')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_course'))
    )
    with op.batch_alter_table('catalog_course', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_course_course_category_id'), ['course_category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_course_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_course_teacher_id'), ['teacher_id'], unique=False)

    op.create_table('catalog_chapter',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('chapter', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('pub_date', sa.Date(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['catalog_course.id'], name=op.f('fk_catalog_chapter_course_id_catalog_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_chapter'))
    )
    with op.batch_alter_table('catalog_chapter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_chapter_course_id'), ['course_id'], unique=False)

    op.create_table('catalog_section',
    sa.Column('chapter_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('section_type', sa.SmallInteger(), nullable=False),
    sa.Column('section_link', sa.String(length=255), nullable=True),
    sa.Column('duration', sa.String(length=32), nullable=True),
    sa.Column('pub_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('free_trail', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('is_delete', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('is_show', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('orders', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('section_type IN (0, 1, 2)', name=op.f('ck_catalog_section_section_type')),
    sa.ForeignKeyConstraint(['chapter_id'], ['catalog_chapter.id'], name=op.f('fk_catalog_section_chapter_id_catalog_chapter'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_section'))
    )
    with op.batch_alter_table('catalog_section', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_section_chapter_id'), ['chapter_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('catalog_section', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_section_chapter_id'))

    op.drop_table('catalog_section')
    with op.batch_alter_table('catalog_chapter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_chapter_course_id'))

    op.drop_table('catalog_chapter')
    with op.batch_alter_table('catalog_course', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_course_teacher_id'))
        batch_op.drop_index(batch_op.f('ix_catalog_course_kind'))
        batch_op.drop_index(batch_op.f('ix_catalog_course_course_category_id'))

    op.drop_table('catalog_course')
    op.drop_table('catalog_teacher')
    op.drop_table('catalog_course_category')
    op.drop_table('catalog_banner')

